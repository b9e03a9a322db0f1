"""Optical-flow alignment of a window's neighbours onto its centre frame: the input of DBN+flow.

Su et al. train DBN on unaligned windows and on windows whose neighbours were warped onto the
centre by optical flow. A model trained on aligned windows says so in its sidecar
(``"align": "dis-fast"``); the plugin and ``training.evaluate`` then align the same way before
inference, and training aligns its crops with this very function, so all three see the same input.
OpenCV's DIS flow (preset fast) runs on one CPU core per pair; what it costs beside the network is
in README's "Aligned models".
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS = ("dis-fast",)


def check_method(method: str | None) -> None:
    """Raise ``ValueError`` naming the known methods unless ``method`` is one of them (or None)."""
    if method is not None and method not in METHODS:
        raise ValueError(f"unknown alignment {method!r}; this version knows {', '.join(METHODS)}")


def align_window(frames: Sequence[np.ndarray], method: str = "dis-fast") -> list[np.ndarray]:
    """The window with every neighbour warped onto the centre frame (H x W x 3, uint8 or float in [0, 1]).

    Flow runs on 8-bit luma from the centre to each neighbour, which is then sampled at the displaced
    positions (bilinear, edges replicated). Neighbours that are the centre frame itself (clip ends,
    scene cuts) come back as they are.
    """
    import cv2

    check_method(method)
    centre = frames[len(frames) // 2]
    h, w = centre.shape[:2]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    reference = _luma(centre)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    aligned = []
    for frame in frames:
        if frame is centre or np.array_equal(frame, centre):
            aligned.append(frame)
            continue
        uv = flow.calc(reference, _luma(frame), None)
        aligned.append(cv2.remap(np.ascontiguousarray(frame), grid_x + uv[..., 0], grid_y + uv[..., 1],
                                 cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return aligned


def _luma(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.dtype != np.uint8:
        frame = np.clip(np.asarray(frame, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
