"""VapourSynth frames <-> the model's float32 RGB arrays.

The model sees five 3 x H x W float32 frames in [0, 1]. Any constant-format clip is brought to a
float "work" clip first (RGBS, or GRAYS for GRAY clips, whose one plane is replicated to RGB) by
core.resize, using the colour properties of the clip's first frame; the result goes back the
same way, keeping the input's format and frame properties.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import vapoursynth as vs

# Matrices core.resize can convert YUV with; 2 (unspecified) and 3 (reserved) are not among them.
YUV_MATRICES = {1: "BT.709", 4: "FCC", 5: "BT.470BG", 6: "ST 170M (BT.601)", 7: "ST 240M",
                8: "YCgCo", 9: "BT.2020 NCL", 10: "BT.2020 CL", 12: "chromaticity-derived NCL",
                13: "chromaticity-derived CL", 14: "ICtCp"}
# Matrices whose conversion also depends on the transfer and primaries (constant-luminance and
# chromaticity-derived ones, ICtCp): core.resize needs _Transfer and _Primaries for them.
NEEDS_TRANSFER = (10, 12, 13, 14)
RANGES = (0, 1)  # _Range and core.resize's range: 0 limited, 1 full
CHROMA_LOCATIONS = range(6)
UNSPECIFIED = 2  # _Matrix, _Transfer and _Primaries value for "unknown"


@dataclass(frozen=True)
class Colour:
    """How the clip's samples map to RGB: core.resize's matrix/range/chromaloc arguments."""

    matrix: int | None = None  # YUV only
    range: int | None = None  # integer formats only
    chromaloc: int | None = None  # YUV only
    transfer: int | None = None  # YUV with a matrix in NEEDS_TRANSFER only
    primaries: int | None = None  # likewise

    def resize_args(self, suffix: str = "") -> dict:
        return {name + suffix: value for name, value in vars(self).items() if value is not None}


def colour_of(clip: vs.VideoNode, matrix: int | None) -> Colour:
    """Read the colour properties from the first frame; ``matrix`` stands in for a missing _Matrix."""
    fmt = clip.format
    if fmt.color_family == vs.RGB and fmt.sample_type == vs.FLOAT:
        return Colour()
    props = clip.get_frame(0).props
    default_range = 1 if fmt.color_family == vs.RGB else 0
    colour_range = props.get("_Range", default_range) if fmt.sample_type == vs.INTEGER else None
    if colour_range not in (None, *RANGES):
        colour_range = default_range
    if fmt.color_family != vs.YUV:
        return Colour(range=colour_range)
    found = props.get("_Matrix")
    if found not in YUV_MATRICES:
        if matrix is None:
            state = "has no _Matrix property" if found is None else f"has _Matrix={found!r}"
            raise vs.Error(
                f"dvd.Deblur: the clip is YUV but its first frame {state}, so the YUV -> RGB "
                "conversion the model needs is unknown; pass matrix=1 for BT.709 (HD), matrix=6 "
                "for BT.601 (SD) or matrix=9 for BT.2020, or set the property with "
                "core.std.SetFrameProps(clip, _Matrix=1)")
        found = matrix
    chromaloc = props.get("_ChromaLocation", 0)
    chromaloc = int(chromaloc) if chromaloc in CHROMA_LOCATIONS else 0
    if int(found) not in NEEDS_TRANSFER:
        return Colour(int(found), colour_range, chromaloc)
    transfer, primaries = (props.get(key) for key in ("_Transfer", "_Primaries"))
    known = lambda value: int(value) if isinstance(value, int) and value != UNSPECIFIED else None
    return Colour(int(found), colour_range, chromaloc, known(transfer), known(primaries))


def work_format(clip: vs.VideoNode) -> int:
    """The float format the model's arrays are read from and written to."""
    return vs.GRAYS if clip.format.color_family == vs.GRAY else vs.RGBS


def to_work(clip: vs.VideoNode, colour: Colour) -> vs.VideoNode:
    """The clip as RGBS (GRAYS for GRAY input)."""
    fmt = work_format(clip)
    if clip.format.id == fmt:
        return clip
    return clip.resize.Bicubic(format=fmt, **colour.resize_args("_in"))


def from_work(work: vs.VideoNode, clip: vs.VideoNode, colour: Colour) -> vs.VideoNode:
    """Back to the clip's own format, with the clip's frame properties."""
    if work.format.id != clip.format.id:
        # Work frames carry no properties: say which transfer and primaries they are in.
        given = {f"{name}_in": value for name, value in
                 (("transfer", colour.transfer), ("primaries", colour.primaries)) if value is not None}
        work = work.resize.Bicubic(format=clip.format.id, **colour.resize_args(), **given)
    return work.std.CopyFrameProps(clip)


def check_conversion(clip: vs.VideoNode, colour: Colour) -> None:
    """Convert the first frame to the work format and back, so that colour properties core.resize
    cannot handle fail when Deblur is called, not in the middle of a render."""
    if clip.format.id == work_format(clip):
        return  # nothing to convert
    first = clip[0]
    try:
        from_work(to_work(first, colour), first, colour).get_frame(0)
    except vs.Error as e:
        raise vs.Error(
            f"dvd.Deblur: core.resize cannot convert the clip's first frame to RGB and back ({e}); fix "
            "its colour properties with core.std.SetFrameProps (_Matrix, _Range, _ChromaLocation, and "
            f"for _Matrix {', '.join(map(str, NEEDS_TRANSFER))} also _Transfer and _Primaries), or "
            "convert the clip to RGB first") from None


def read(frame: vs.VideoFrame, multiple: int) -> np.ndarray:
    """A work frame as a contiguous 3 x H' x W' float32 array for the model.

    Values are clipped to [0, 1] with NaN as 0; H' and W' are H and W padded up to ``multiple`` by
    mirroring the last rows and columns (np.pad's "reflect"; ``write`` crops them off again).
    """
    h, w = frame.height, frame.width
    planes = [np.asarray(frame[p]) for p in range(frame.format.num_planes)]
    rgb = np.empty((3, h + -h % multiple, w + -w % multiple), np.float32)
    for p in range(3):
        inside = rgb[p, :h, :w]
        np.fmax(planes[p % len(planes)], 0.0, out=inside)  # fmax drops NaN: one pass for both
        np.fmin(inside, 1.0, out=inside)
    rgb[:, h:, :w] = rgb[:, 2 * h - 2 - np.arange(h, rgb.shape[1]), :w]
    rgb[:, :, w:] = rgb[:, :, 2 * w - 2 - np.arange(w, rgb.shape[2])]
    return rgb


def write(rgb: np.ndarray, frame: vs.VideoFrame) -> None:
    """Store the model's 3 x H' x W' output in a writable work frame (GRAY: the mean of R, G, B)."""
    h, w = frame.height, frame.width
    if frame.format.num_planes == 1:
        np.mean(rgb[:, :h, :w], axis=0, out=np.asarray(frame[0]))
    else:
        for p in range(3):
            np.asarray(frame[p])[...] = rgb[p, :h, :w]
