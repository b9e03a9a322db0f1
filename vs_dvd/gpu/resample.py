"""core.resize's chroma resampling (bicubic with b = 0, c = 0.5) as polyphase passes in torch.

The filter taps are computed the way zimg computes them (output sample centres mapped onto the input
grid, the kernel widened when shrinking, taps beyond the border mirrored back inside), so that chroma
upsampled or downsampled here matches core.resize's to float rounding. Chroma is resampled by an
integer factor (2 or 4), so output sample ``phases * m + r`` always applies phase r's few taps at
input ``stride * m``: the input is padded once with its mirrored border, and each tap is one
multiply-add of a shifted view, written straight into phase r's interleaved view of the output. That
streams through memory on any device; a gather of every tap (one index per output and tap) was an
order of magnitude slower on the CPU.
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


def mirror(index: np.ndarray, source: int) -> np.ndarray:
    """Input indices beyond either end reflected back inside, the edge sample repeated (zimg's border)."""
    return np.where(index < 0, -index - 1, np.where(index >= source, 2 * source - index - 1, index))


@dataclass(frozen=True)
class Taps:
    """Output sample ``phases * m + r`` is sum_j weights[r][j] * input[mirror(stride * m + offsets[r][j])]."""

    source: int
    target: int
    phases: int  # the upsampling factor, 1 when downsampling
    stride: int  # the downsampling factor, 1 when upsampling
    offsets: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[float, ...], ...]


def taps(source: int, target: int, shift: float) -> Taps:
    """The filter that resamples ``source`` samples to ``target`` (an integer factor up or down), the
    output grid moved by ``shift`` input samples (how core.resize places subsampled chroma)."""
    if target % source and source % target:
        raise ValueError(f"{source} -> {target} samples is not an integer factor")
    phases, stride = (target // source, 1) if target >= source else (1, source // target)
    scale = target / source
    step = min(scale, 1.0)
    size = max(math.ceil(SUPPORT / step) * 2, 1)
    kernels: list[dict[int, float] | None] = [None] * phases
    for i in range(target):
        centre = (i + 0.5) / scale + shift
        begin = math.floor(abs(centre - size / 2) + 0.5) * (1 if centre - size / 2 >= 0 else -1) + 0.5
        positions = begin + np.arange(size)
        weights = bicubic((positions - centre) * step)
        weights /= weights.sum()
        m, r = divmod(i, phases)
        kernel: dict[int, float] = {}
        for index, weight in zip(np.floor(positions).astype(np.int64) - stride * m, weights):
            if weight:
                kernel[int(index)] = kernel.get(int(index), 0.0) + float(weight)
        if kernels[r] is None:
            kernels[r] = kernel
        elif kernel.keys() != kernels[r].keys() or max(abs(kernel[k] - kernels[r][k]) for k in kernel) > 1e-9:
            raise ValueError(f"the taps of {source} -> {target} samples differ between outputs of one phase")
    return Taps(source, target, phases, stride, tuple(tuple(sorted(k)) for k in kernels),
                tuple(tuple(k[j] for j in sorted(k)) for k in kernels))


class Resampler:
    """``taps`` along one axis of torch tensors on ``device``."""

    def __init__(self, filter: Taps, device: torch.device):
        self.filter = filter
        count = filter.target // filter.phases  # outputs per phase
        low = min(min(offsets) for offsets in filter.offsets)
        high = filter.stride * (count - 1) + max(max(offsets) for offsets in filter.offsets)
        self._before = -min(low, 0)  # padded index = input index + before
        as_index = lambda indices: torch.from_numpy(mirror(indices, filter.source)).to(device)
        self._left = as_index(np.arange(low, 0)) if low < 0 else None
        self._right = as_index(np.arange(filter.source, high + 1)) if high >= filter.source else None
        self._span = filter.stride * (count - 1) + 1  # input samples one tap's pass reads

    def rows(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Resample along the last axis (within each row), into ``out`` if given."""
        return self._along(x, -1, out)

    def columns(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Resample along the second-to-last axis (within each column), into ``out`` if given."""
        return self._along(x, -2, out)

    def _along(self, x: torch.Tensor, axis: int, out: torch.Tensor | None) -> torch.Tensor:
        f = self.filter
        pieces = [x.index_select(axis, self._left)] if self._left is not None else []
        pieces += [x] + ([x.index_select(axis, self._right)] if self._right is not None else [])
        padded = torch.cat(pieces, axis) if len(pieces) > 1 else x
        shape = list(x.shape)
        shape[axis] = f.target
        out = x.new_empty(shape) if out is None else out
        phased = out.unflatten(axis, (f.target // f.phases, f.phases))  # a view: [..., m, r, (W)]
        for r, (offsets, weights) in enumerate(zip(f.offsets, f.weights)):
            dest = phased.select(axis, r)  # the phase axis sits at ``axis`` once m precedes it
            for j, (offset, weight) in enumerate(zip(offsets, weights)):
                start = offset + self._before
                view = padded.narrow(axis, start, self._span)
                if f.stride > 1:
                    view = view[(..., slice(None, None, f.stride)) + (slice(None),) * (-1 - axis)]
                if j == 0:
                    torch.mul(view, weight, out=dest)
                else:
                    dest.add_(view, alpha=weight)
        return out
