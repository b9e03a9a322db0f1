"""Deep video deblurring (Su et al., CVPR 2017) for VapourSynth.

``vs_dvd.deblur(clip)`` in Python is ``core.dvd.Deblur(clip)`` in any script: every argument is
checked here, up front, so that a wrong argument or model fails when the filter is created and
never in the middle of a render. Importing this package loads neither torch nor onnxruntime.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import vapoursynth as vs

from . import backends, frames, model as models, tiles
from .basics import round_up
from .pipeline import deblurred

__version__ = "0.1.0"
__all__ = ["deblur", "version"]

BACKEND_CHOICES = ("auto", *backends.NAMES)
MIN_SIZE = 8  # the network halves the frame three times
DEFAULT_OVERLAP = 32
MEMORY_SHARE = 0.5  # of the free memory, what one frame's inference may take before tiling kicks in


def deblur(clip: vs.VideoNode, model: str | os.PathLike | None = None, backend: str = "auto",
           tilesize: int | Sequence[int] | None = None, overlap: int | Sequence[int] | None = None,
           device_id: int = 0, fp16: bool = True, num_streams: int = 1, num_threads: int = 0,
           matrix: int | None = None, int8: bool | None = None, engine_folder: str | os.PathLike | None = None,
           engine: str | os.PathLike | None = None) -> vs.VideoNode:
    """Remove camera-shake blur: each output frame is the model's estimate from five input frames.

    Args:
        clip: any constant-format, constant-size video clip of at least 8x8 pixels: YUV (any
            subsampling), RGB or GRAY, 8-16 bit integer, half or single float, without an alpha
            plane (``_Alpha``). The output has the same format, size, length, frame rate and frame
            properties. Frames across a scene cut (``_SceneChangePrev``/``_SceneChangeNext``) are
            never mixed.
        model: path of an ONNX model (input N x 15 x H x W, five RGB frames in [0, 1], oldest
            first; output N x 3 x H x W). Default: the model bundled with the plugin.
        backend: "auto" (trt, else cuda, else ov, else cpu), "trt" (TensorRT or TensorRT-RTX
            engine, built once and cached), "cuda" (PyTorch on an NVIDIA GPU), "ov" (OpenVINO on
            the CPU) or "cpu" (ONNX Runtime).
        tilesize: run the model on tiles of this size, int or [width, height], multiples of 8.
            Default: whole frames, or tiles when a frame would not fit in the device's memory.
        overlap: overlap of adjacent tiles in pixels, int or [width, height]; blended with a
            Hann window. Default 32 (at most half a tile).
        device_id: which GPU for trt and cuda (0 is the only device of the ov and cpu backends).
        fp16: half precision on trt and cuda (faster, visually identical), bfloat16 on ov where
            the CPU computes it natively (else fp32); the cpu backend always computes in fp32.
        num_streams: how many frames are inferred at once (GPU streams, or concurrent CPU runs).
        num_threads: CPU threads per inference for the ov and cpu backends; 0 uses every core, and at
            most ``os.cpu_count()`` are allowed.
        matrix: YUV matrix (1 BT.709, 5/6 BT.601, 9 BT.2020, ...) for clips whose frames lack a
            ``_Matrix`` property; the property wins when present.
        int8: run the model's int8 version (``python -m training.quantise``) on ov. Default: where
            it pays: on ov with fp16=True, when the model has one, on an x86 CPU with AVX2 or more; the
            layers kept in float then run as fp16 says.
        engine_folder: where trt keeps the engines it builds (default ``$XDG_CACHE_HOME/vs-dvd/engines``).
            A cached engine accepts a range of frame sizes, so a new resolution seldom needs a new build.
        engine: run this engine file (``python -m vs_dvd.trt_build MODEL -o FILE``) on trt, in the precision
            and for the frame sizes it was built for (frames beyond them are tiled); ``model`` must be the
            ONNX it was built from. Never rebuilt.
    """
    _check_clip(clip)
    if backend not in BACKEND_CHOICES:
        raise vs.Error(f"dvd.Deblur: backend={backend!r} is unknown; use one of "
                       f"{', '.join(repr(b) for b in BACKEND_CHOICES)}")
    _check_int("device_id", device_id, 0)
    _check_int("num_streams", num_streams, 1)
    _check_int("num_threads", num_threads, 0)
    cores = os.cpu_count() or 1
    if num_threads > cores:
        raise vs.Error(f"dvd.Deblur: num_threads={num_threads} is more than the {cores} CPU threads "
                       "of this machine; pass 0 to use them all, or fewer")
    if fp16 not in (True, False):
        raise vs.Error(f"dvd.Deblur: fp16={fp16!r} must be True or False")
    if int8 not in (None, True, False):
        raise vs.Error(f"dvd.Deblur: int8={int8!r} must be True, False or left out (where it pays)")
    if matrix is not None and matrix not in frames.YUV_MATRICES:
        raise vs.Error(f"dvd.Deblur: matrix={matrix!r} is not a YUV matrix core.resize knows; use "
                       + ", ".join(f"{k} ({v})" for k, v in frames.YUV_MATRICES.items()))
    info = models.load(model)
    if info.align:
        try:
            import cv2  # noqa: F401
        except ImportError:
            raise vs.Error(f"dvd.Deblur: model {info.path} warps the neighbours onto each frame by optical "
                           f"flow ({info.align}), which needs OpenCV: pip install 'vs-dvd[align]' "
                           "(opencv-python-headless)") from None
    tile = _pair("tilesize", tilesize, 1, info.multiple) if tilesize is not None else None
    overlap = _pair("overlap", overlap, 0, 1) if overlap is not None else None
    if tile and overlap and (tile[0] < 2 * overlap[0] or tile[1] < 2 * overlap[1]):
        raise vs.Error(f"dvd.Deblur: tilesize (width, height) {tile[::-1]} is less than twice the "
                       f"overlap {overlap[::-1]}; use larger tiles or a smaller overlap")
    if engine is not None and backend not in ("auto", "trt"):
        raise vs.Error(f"dvd.Deblur: engine= runs on backend='trt', and this call asks for backend='{backend}'; "
                       "pass backend='trt' (or 'auto'), or leave engine out")
    name = backends.resolve("trt" if engine is not None else backend, device_id)
    colour = frames.colour_of(clip, matrix)
    frames.check_conversion(clip, colour)
    options, profile = {}, None  # the options of one backend alone; the sizes an engine file accepts
    if engine is not None:
        from vs_dvd.trt_build import Profile

        options["engine"] = backends.module("trt").user_engine(engine, info)
        fp16 = options["engine"].sidecar["precision"] != "fp32"
        profile = Profile.from_dict(options["engine"].sidecar["profile"])
    budget = _pixel_budget(name, info, device_id, bool(fp16), num_streams)
    if name == "trt":
        options.update(engine_folder=engine_folder, budget=budget)
    elif backends.use_int8(int8, name, info, bool(fp16)):
        options["int8"] = True
    tiling = _tiling(clip, info, tile, overlap, budget, profile)
    runner = backends.create(name, info, auto=backend == "auto" and engine is None, device_id=device_id,
                             fp16=bool(fp16), num_streams=num_streams, num_threads=num_threads, shape=tiling.tile,
                             **options)
    return deblurred(clip, colour, runner, tiling, info.multiple, info.align, num_streams)


def version() -> dict[str, str]:
    """Versions of the plugin, the bundled model and each backend's runtime, for bug reports."""
    runtimes = {name: backends.runtime_version(name) or "not installed" for name in backends.NAMES}
    return {"plugin": __version__, "model": models.load().describe(), **runtimes}


def _check_clip(clip) -> None:
    if not isinstance(clip, vs.VideoNode):
        raise vs.Error(f"dvd.Deblur: clip must be a video clip, got {type(clip).__name__}")
    if clip.format is None or clip.format.id == vs.NONE:
        raise vs.Error("dvd.Deblur: the clip's format varies from frame to frame; convert it to "
                       "one format first, e.g. clip.resize.Bicubic(format=vs.YUV420P8)")
    fmt = clip.format
    if fmt.sample_type == vs.INTEGER and fmt.bits_per_sample > 16:
        raise vs.Error(f"dvd.Deblur: the clip is {fmt.name}, {fmt.bits_per_sample}-bit integer, which "
                       "core.resize cannot convert; bring it to 16 bits or to float first")
    if clip.width == 0 or clip.height == 0:
        raise vs.Error("dvd.Deblur: the clip's frame size varies; resize it to one size first, "
                       "e.g. clip.resize.Bicubic(1920, 1080)")
    if clip.width < MIN_SIZE or clip.height < MIN_SIZE:
        raise vs.Error(f"dvd.Deblur: the clip is {clip.width}x{clip.height}, smaller than the "
                       f"{MIN_SIZE}x{MIN_SIZE} the network needs; pad it first, e.g. with "
                       "core.std.AddBorders")


def _check_int(name: str, value, minimum: int) -> None:
    if not isinstance(value, int) or value < minimum:
        raise vs.Error(f"dvd.Deblur: {name}={value!r} must be an integer >= {minimum}")


def _pair(name: str, value, minimum: int, multiple: int) -> tuple[int, int]:
    """vs-mlrt's convention: an int, or [width, height]; returned as (height, width)."""
    values = [value] if isinstance(value, int) else list(value) if isinstance(value, Sequence) else []
    if len(values) == 1:
        values *= 2
    if (len(values) != 2 or not all(isinstance(v, int) and v >= minimum and v % multiple == 0
                                    for v in values)):
        need = f"integers >= {minimum}" + (f" and multiples of {multiple}" if multiple > 1 else "")
        raise vs.Error(f"dvd.Deblur: {name}={value!r} must be an int or [width, height], "
                       f"{need}")
    return values[1], values[0]


def _default_overlap(tile: tuple[int, int]) -> tuple[int, int]:
    return min(DEFAULT_OVERLAP, tile[0] // 2), min(DEFAULT_OVERLAP, tile[1] // 2)


def _pixel_budget(backend: str, info: models.ModelInfo, device_id: int, fp16: bool, num_streams: int) -> int:
    """How many pixels one inference may take: ``MEMORY_SHARE`` of the device's free memory, shared by the streams."""
    budget = MEMORY_SHARE * backends.free_memory(backend, device_id) / num_streams
    return int(budget // info.bytes_per_pixel(half=fp16 and backend not in backends.ON_THE_CPU))


def _tiling(clip: vs.VideoNode, info: models.ModelInfo, tile: tuple[int, int] | None,
            overlap: tuple[int, int] | None, budget: int, profile=None) -> tiles.Tiling:
    """The user's tiles, else whole padded frames, else the largest tiles that fit in ``budget`` pixels and,
    for an engine file, in its ``profile`` (a ``trt_build.Profile``: the sizes it accepts)."""
    size = (round_up(clip.height, info.multiple), round_up(clip.width, info.multiple))
    if tile is None:
        fitting = tiles.largest_tile(size, budget, info.multiple)
        largest = tuple(min(f, m) for f, m in zip(fitting, profile.max)) if profile else fitting
        if largest != size:
            why = "the free memory of the device" if largest == fitting else "the engine file's largest input"
            vs.core.log_message(vs.MESSAGE_TYPE_INFORMATION, f"dvd.Deblur: {size[1]}x{size[0]} frames would not "
                                f"fit in {why}; using {largest[1]}x{largest[0]} tiles")
            tile = largest
            if overlap:
                overlap = min(overlap[0], tile[0] // 2), min(overlap[1], tile[1] // 2)
    tiling = tiles.Tiling.fit(size, tile, overlap or _default_overlap(tile or size))
    if profile and not profile.accepts(tiling.tile):
        (h, w), (lh, lw), (hh, hw) = tiling.tile, profile.min, profile.max
        raise vs.Error(f"dvd.Deblur: the engine file takes inputs from {lw}x{lh} to {hw}x{hh}, and this clip needs "
                       f"{w}x{h}; pass a tilesize within them, or build the engine with python -m vs_dvd.trt_build "
                       "--min-shape/--max-shape to cover it")
    return tiling
