"""Sharp footage -> blurry footage with ground truth, the way Su et al. made their training set.

The source is densified to 8 times its frame rate with optical-flow in-betweens (``footage``'s
DIS interpolation), a hand-held camera shakes while each frame is exposed (``photos``'
trajectory and renderer), and the 7 virtual frames centred on each source frame are averaged in
linear light (``photos.blur_sequence``): that is the blurry frame. Its sharp frame is the source
frame itself, seen by the camera at rest. Each exposure gets its own trajectory, centred on its
sharp frame, so the sharp clip is the steady source and only the blur changes from frame to frame
(from nearly none to ``max_speed``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np

from training.data.footage import Blur, in_between, windows
from training.data.photos import (EXPOSURE, STEP, ShakeConfig, blur_sequence, linear_to_srgb,
                                  render, srgb_to_linear, trajectory)

VIEW_SHARE = 5 / 6  # of each side, what the camera sees: the rest is room for the shake
MULTIPLE = 8        # view sizes the network takes without padding


def view_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the shaking camera's view of a height x width source frame."""
    h, w = (int(side * VIEW_SHARE) // MULTIPLE * MULTIPLE for side in (height, width))
    if min(h, w) < MULTIPLE:
        raise ValueError(f"a {width}x{height} source is too small to shake; use one of at least "
                         f"{round(MULTIPLE / VIEW_SHARE) + 1} pixels a side")
    return h, w


def densify(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """uint8 sRGB frames -> linear-light float32 frames at STEP times the rate: each source frame
    is followed by STEP - 1 optical-flow in-betweens towards the next."""
    previous = None
    for frame in frames:
        values = srgb_to_linear(frame.astype(np.float32) / np.float32(255)).astype(np.float32)
        if previous is not None:
            yield from in_between(previous[0], frame, STEP - 1, previous[1], values)
        yield values
        previous = frame, values


def exposures(frames: Iterable[np.ndarray]) -> Iterator[list[np.ndarray]]:
    """The EXPOSURE virtual frames centred on each source frame but the first and the last."""
    dense = islice(densify(frames), STEP - EXPOSURE // 2, None)  # the first window centres on frame 1
    return windows(dense, Blur(stride=STEP, window=EXPOSURE))


def shake(exposure: list[np.ndarray], speed: float,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One exposure through a camera shaking at ``speed`` px per virtual frame -> (blurry, sharp)
    H x W x 3 uint8, H x W the view size."""
    height, width = exposure[0].shape[:2]
    view_h, view_w = view_size(height, width)
    side = max(view_h, view_w)  # render makes square views: crop the middle of one
    centre = (width // 2, height // 2)  # whole pixels: the camera at rest copies pixels exactly
    path = trajectory(len(exposure), speed, rng)
    seen = np.concatenate([render(frame, path[i:i + 1], side, centre) for i, frame in enumerate(exposure)])
    top, left = (side - view_h) // 2, (side - view_w) // 2
    blurry, sharp = blur_sequence(seen[:, top:top + view_h, left:left + view_w], 1)
    return _to_uint8(blurry[0]), _to_uint8(sharp[0])


def blur(frames: Iterable[np.ndarray], max_speed: float = ShakeConfig.max_speed,
         seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(blurry, sharp) for each source frame but the first and last, shake speeds drawn from
    10-100 % of ``max_speed`` as in training."""
    rng = np.random.default_rng(seed)
    for exposure in exposures(frames):
        yield shake(exposure, max_speed * rng.uniform(0.1, 1.0), rng)


def _to_uint8(linear: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(linear_to_srgb(linear) * 255.0), 0, 255).astype(np.uint8)
