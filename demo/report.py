"""Scoring and picturing the demo: PSNR against the sharp frames, one frame side by side."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.evaluate import psnr  # the metric of the model's own evaluation report
from vs_dvd.trt_build.files import atomic_write_bytes  # one atomic writer


@dataclass(frozen=True)
class Scores:
    """Per-frame PSNR in dB of the blurry and the deblurred frames against the sharp ones."""

    blurry: list[float]
    deblurred: list[float]

    @classmethod
    def of(cls, blurry: np.ndarray, deblurred: np.ndarray, sharp: np.ndarray) -> Scores:
        """From T x H x W x 3 uint8 clips."""
        def unit(x: np.ndarray) -> np.ndarray:
            return x.astype(np.float64) / 255.0

        return cls([psnr(unit(s), unit(b)) for s, b in zip(sharp, blurry)],
                   [psnr(unit(s), unit(d)) for s, d in zip(sharp, deblurred)])

    @property
    def gain(self) -> float:
        return float(np.mean(self.deblurred) - np.mean(self.blurry))

    def line(self) -> str:
        """The demo's verdict, one line."""
        return (f"PSNR against the sharp frames (mean of {len(self.blurry)}): blurry "
                f"{np.mean(self.blurry):.2f} dB, deblurred {np.mean(self.deblurred):.2f} dB, "
                f"gain {self.gain:+.2f} dB")

    def typical(self) -> int:
        """The frame the side-by-side picture shows: the one of median blur."""
        return int(np.argsort(self.blurry)[len(self.blurry) // 2])


def side_by_side(blurry: np.ndarray, deblurred: np.ndarray, sharp: np.ndarray,
                 labels: tuple[str, str, str]) -> np.ndarray:
    """Three H x W x 3 uint8 RGB frames in a row, each labelled in its top-left corner."""
    panels = []
    for frame, label in zip((blurry, deblurred, sharp), labels):
        panel = frame.copy()  # C-contiguous, and the caller's frame stays unlabelled
        scale = max(frame.shape[0] / 480, 0.4)
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable anywhere
            cv2.putText(panel, label, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        colour, thickness, cv2.LINE_AA)
        panels.append(panel)
    return np.concatenate(panels, axis=1)


def write_image(image: np.ndarray, path: Path) -> None:
    """An H x W x 3 uint8 RGB image as PNG, or JPEG of quality 95 (README's picture), by ``path``'s suffix;
    written atomically."""
    path = Path(path)
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    ok, data = cv2.imencode(path.suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_OPTIMIZE, 1] if jpeg else [])
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, data.tobytes())
