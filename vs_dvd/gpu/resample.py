"""core.resize's chroma resampling (bicubic with b = 0, c = 0.5) as gather-and-weight passes in torch.

The filter taps are computed the way zimg computes them (output sample centres mapped onto the input
grid, the kernel widened when shrinking, taps beyond the border mirrored back inside), so that chroma
upsampled or downsampled here matches core.resize's to float rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

B, C = 0.0, 0.5  # core.resize.Bicubic's defaults (filter_param_a/b), its chroma filter too
SUPPORT = 2  # the bicubic kernel is zero beyond |x| = 2


def bicubic(x: np.ndarray) -> np.ndarray:
    """The Mitchell-Netravali family's kernel with parameters B and C."""
    x = np.abs(x)
    near = ((12 - 9 * B - 6 * C) * x ** 3 + (-18 + 12 * B + 6 * C) * x ** 2 + (6 - 2 * B)) / 6
    far = ((-B - 6 * C) * x ** 3 + (6 * B + 30 * C) * x ** 2 + (-12 * B - 48 * C) * x + (8 * B + 24 * C)) / 6
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


@dataclass(frozen=True)
class Taps:
    """Output sample i is sum_j weights[i, j] * input[first[i] + j]."""

    first: np.ndarray  # (out,) int64
    weights: np.ndarray  # (out, taps) float32


def taps(source: int, target: int, shift: float) -> Taps:
    """The filter that resamples ``source`` samples to ``target``, the output grid moved by ``shift``
    input samples (how core.resize places subsampled chroma)."""
    scale = target / source
    step = min(scale, 1.0)
    size = max(math.ceil(SUPPORT / step) * 2, 1)
    matrix = np.zeros((target, source))
    for i in range(target):
        centre = (i + 0.5) / scale + shift
        begin = math.floor(abs(centre - size / 2) + 0.5) * (1 if centre - size / 2 >= 0 else -1) + 0.5
        positions = begin + np.arange(size)
        weights = bicubic((positions - centre) * step)
        weights /= weights.sum()
        mirrored = np.where(positions < 0, -positions,
                            np.where(positions >= source, np.minimum(2 * source - positions, source - 0.5), positions))
        np.add.at(matrix[i], np.floor(mirrored).astype(np.int64), weights)
    nonzero = matrix != 0
    lefts = nonzero.argmax(1)
    rights = source - nonzero[:, ::-1].argmax(1)
    width = int((rights - lefts).max())
    first = np.minimum(lefts, source - width)
    gathered = matrix[np.arange(target)[:, None], first[:, None] + np.arange(width)]
    return Taps(first.astype(np.int64), gathered.astype(np.float32))


class Resampler:
    """``taps`` along one axis of torch tensors on ``device``."""

    def __init__(self, filter: Taps, device: torch.device):
        self.index = torch.from_numpy(filter.first[:, None] + np.arange(filter.weights.shape[1])).to(device)
        self.weights = torch.from_numpy(filter.weights).to(device)

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """Resample along the last axis (within each row)."""
        return (x[..., self.index] * self.weights).sum(-1)

    def columns(self, x: torch.Tensor) -> torch.Tensor:
        """Resample along the second-to-last axis (within each column)."""
        return (x[..., self.index, :] * self.weights[..., None]).sum(-2)
