"""A clip's planes <-> the model's RGB, in torch, as core.resize converts them.

To RGB: integer samples to float (range and bit depth), chroma upsampled to full size where the format
subsamples it (bicubic, sited by ``_ChromaLocation``), the YUV matrix, GRAY replicated to three planes;
then NaN and infinities sanitised into [0, 1] and the frame mirror-padded to the model's multiple, as
``vs_dvd.frames.read`` does on the host. Back: the inverse, ending in the clip's own sample type
(rounded to the nearest integer, no dither: core.resize's default). Matrices that also need the
transfer function (constant-luminance, chromaticity-derived and ICtCp ones) are not implemented here:
``unsupported`` says so, and the caller falls back to core.resize.
"""
from __future__ import annotations

import numpy as np
import torch
import vapoursynth as vs

from ..frames import NEEDS_TRANSFER, Colour
from .resample import Resampler, taps

# _Matrix -> (Kr, Kb) of the YUV matrices defined by their luma weights (as zimg defines them)
LUMA_WEIGHTS = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114),
                7: (0.212, 0.087), 9: (0.2627, 0.0593)}
YCGCO = 8
YCGCO_MATRIX = np.array([[0.25, 0.5, 0.25], [-0.25, 0.5, -0.25], [0.5, 0.0, -0.5]])  # RGB -> Y, Cg, Co
# _ChromaLocation -> where chroma sits relative to the luma samples it covers: -0.5 left or top,
# 0 centred, +0.5 bottom (zimg's convention), horizontally and vertically
CHROMA_SITING = {0: (-0.5, 0.0), 1: (0.0, 0.0), 2: (-0.5, -0.5), 3: (0.0, -0.5), 4: (-0.5, 0.5), 5: (0.0, 0.5)}


def unsupported(fmt: vs.VideoFormat, colour: Colour) -> str | None:
    """Why this converter cannot convert ``fmt`` with ``colour``; None when it can."""
    if fmt.color_family == vs.YUV and colour.matrix in NEEDS_TRANSFER:
        return (f"_Matrix {colour.matrix} also needs the transfer function, which the torch colour "
                "converter does not implement")
    if fmt.color_family == vs.YUV and colour.matrix not in (*LUMA_WEIGHTS, YCGCO):
        return f"_Matrix {colour.matrix} is not one the torch colour converter knows"
    if fmt.sample_type == vs.INTEGER and fmt.bits_per_sample > 16:
        return f"{fmt.bits_per_sample}-bit samples are not supported"
    return None


def rgb_to_yuv(matrix: int) -> np.ndarray:
    """The 3 x 3 matrix from R, G, B to Y, U, V (U and V centred on 0, in [-0.5, 0.5])."""
    if matrix == YCGCO:
        return YCGCO_MATRIX
    kr, kb = LUMA_WEIGHTS[matrix]
    kg = 1 - kr - kb
    luma = np.array([kr, kg, kb])
    return np.stack([luma, (np.eye(3)[2] - luma) / (2 * (1 - kb)), (np.eye(3)[0] - luma) / (2 * (1 - kr))])


def sample_scale(fmt: vs.VideoFormat, full_range: bool, chroma: bool, ycgco: bool = False) -> tuple[float, float]:
    """(step, offset) with float value = (sample - offset) / step, as zimg converts integer samples
    (limited-range YCgCo chroma spans luma's 219 steps, not 224)."""
    bits = fmt.bits_per_sample
    if fmt.sample_type == vs.FLOAT:
        return 1.0, 0.0
    if full_range:
        return float(2 ** bits - 1), float(2 ** (bits - 1)) if chroma else 0.0
    shift = 2 ** (bits - 8)
    return float((224 if chroma and not ycgco else 219) * shift), float((128 if chroma else 16) * shift)


def storage(fmt: vs.VideoFormat) -> torch.dtype:
    """The torch dtype a plane of ``fmt`` travels as (16-bit integers as int16 bit patterns: torch's
    uint16 lacks most CUDA kernels)."""
    if fmt.sample_type == vs.FLOAT:
        return torch.float16 if fmt.bits_per_sample == 16 else torch.float32
    return torch.uint8 if fmt.bytes_per_sample == 1 else torch.int16


class Converter:
    """Frames of ``fmt`` (``width`` x ``height``, colour as ``colour``) to and from the model's padded
    3 x H' x W' float32 RGB on ``device``; H' and W' are multiples of ``multiple``.

    Both directions are affine per pixel once chroma is at full size (the sample scaling, the matrix),
    and the chroma filters' weights sum to one, so the scaling is folded into the matrix: one matrix
    product with a bias per direction, over planes stacked in one buffer."""

    def __init__(self, fmt: vs.VideoFormat, colour: Colour, width: int, height: int, multiple: int,
                 device: torch.device):
        why = unsupported(fmt, colour)
        if why:
            raise ValueError(why)
        self.format, self.width, self.height, self.device = fmt, width, height, device
        self.padded = (height + -height % multiple, width + -width % multiple)
        family = fmt.color_family
        full = colour.range == 1 if fmt.sample_type == vs.INTEGER else True
        steps, offsets = np.array([sample_scale(fmt, full, family == vs.YUV and p > 0, colour.matrix == YCGCO)
                                   for p in range(fmt.num_planes)]).T
        if family == vs.YUV:
            forward = rgb_to_yuv(colour.matrix)
        elif family == vs.GRAY:
            forward = np.full((1, 3), 1 / 3)  # GRAY is replicated to RGB; back, it is RGB's mean
        else:
            forward = np.eye(3)
        inverse = np.linalg.pinv(forward)  # the exact inverse where forward is square
        # planes -> RGB: inverse @ ((sample - offset) / step); RGB -> samples: step * (forward @ rgb) + offset
        as_tensor = lambda array: torch.tensor(array, dtype=torch.float32, device=device)
        self._to_rgb = as_tensor(inverse / steps), as_tensor(-(inverse / steps) @ offsets)[:, None]
        self._from_rgb = as_tensor(forward * steps[:, None]), as_tensor(offsets)[:, None]
        self._peak = 2 ** fmt.bits_per_sample - 1
        self._up = self._down = None
        if family == vs.YUV and fmt.subsampling_w + fmt.subsampling_h:
            self._up, self._down = self._chroma_filters(colour.chromaloc or 0)

    def _chroma_filters(self, chromaloc: int) -> tuple[list, list]:
        """Per axis (columns, rows): chroma -> luma size and back, or None where not subsampled."""
        up, down = [], []
        for full, sub, siting in ((self.height, self.format.subsampling_h, CHROMA_SITING[chromaloc][1]),
                                  (self.width, self.format.subsampling_w, CHROMA_SITING[chromaloc][0])):
            if not sub:
                up.append(None), down.append(None)
                continue
            small = full >> sub
            up.append(Resampler(taps(small, full, -siting / 2 ** sub), self.device))
            down.append(Resampler(taps(full, small, siting), self.device))
        return up, down

    def to_rgb(self, planes: list[torch.Tensor]) -> torch.Tensor:
        """The frame's planes (on the device, in ``storage`` dtype) -> padded, sanitised RGB."""
        h, w = self.height, self.width
        stacked = torch.empty((len(planes), h, w), dtype=torch.float32, device=self.device)
        stacked[0].copy_(widened(planes[0]))
        if self._up:
            columns, rows = self._up
            chroma = torch.stack([widened(plane) for plane in planes[1:]]).float()
            chroma = columns.columns(chroma) if columns else chroma
            if rows:
                rows.rows(chroma, out=stacked[1:])
            else:
                stacked[1:].copy_(chroma)
        else:
            for stack, plane in zip(stacked[1:], planes[1:]):
                stack.copy_(widened(plane))
        rgb = torch.empty((3, *self.padded), dtype=torch.float32, device=self.device)
        inside = rgb[:, :h, :w]
        if inside.is_contiguous():
            torch.addmm(self._to_rgb[1], self._to_rgb[0], stacked.view(len(planes), -1), out=rgb.view(3, -1))
        else:
            inside.copy_(torch.addmm(self._to_rgb[1], self._to_rgb[0], stacked.view(len(planes), -1)).view(3, h, w))
        if self.format.sample_type == vs.FLOAT:
            torch.nan_to_num_(inside, nan=0.0)
        inside.clamp_(0.0, 1.0)
        if self.padded[0] > h:  # mirrored as vs_dvd.frames.read mirrors: the last row not repeated
            rgb[:, h:, :w] = rgb[:, 2 * h - 2 - torch.arange(h, self.padded[0], device=self.device), :w]
        if self.padded[1] > w:
            rgb[:, :, w:] = rgb[:, :, 2 * w - 2 - torch.arange(w, self.padded[1], device=self.device)]
        return rgb

    def from_rgb(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """The model's padded RGB (float32, on the device) -> the clip's planes in ``storage`` dtype."""
        h, w = self.height, self.width
        inside = rgb[:, :h, :w].float().contiguous()
        values = torch.addmm(self._from_rgb[1], self._from_rgb[0], inside.view(3, -1)).view(-1, h, w)
        groups = [values]  # quantised a group at a time: one operation for planes of one size
        if self._down:
            columns, rows = self._down
            chroma = rows.rows(values[1:]) if rows else values[1:]
            groups = [values[:1], columns.columns(chroma) if columns else chroma]
        return [plane for group in groups for plane in self._quantise(group).unbind(0)]

    def _quantise(self, values: torch.Tensor) -> torch.Tensor:
        dtype = storage(self.format)
        if self.format.sample_type == vs.FLOAT:
            return values.to(dtype)
        samples = values.round_().clamp_(0, self._peak)
        return samples.to(torch.int32).to(dtype) if dtype == torch.int16 else samples.to(dtype)


def widened(plane: torch.Tensor) -> torch.Tensor:
    """A plane in a dtype arithmetic on it is exact in: 16-bit samples from their int16 bit patterns,
    half floats as float32 (uint8 and float32 planes as they are)."""
    if plane.dtype == torch.int16:
        return plane.int() & 0xFFFF
    return plane.float() if plane.dtype == torch.float16 else plane
