"""The facts and small helpers that vs_dvd, trt_build and training share, each in one place.

Torch-free and VapourSynth-free (the standard library and numpy only), so that every side can import it
without loading a runtime: the DBN's window and size multiple, the window's frame indices, PSNR, the
dataset manifest, "HxW" sizes, the CUDA driver probe and the one line worth quoting from an error.
"""
from __future__ import annotations

import ctypes
import functools
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

FRAMES = 5  # the DBN's temporal window: frames n-2 ... n+2 feed output n
RADIUS = FRAMES // 2
MULTIPLE = 8  # three stride-2 stages: the network's input height and width divide by 8
PSNR_CAP = 100.0  # dB: the PSNR of equal images (infinite) counts as this, so that means stay finite
MANIFEST = "manifest.json"  # a dataset folder's index of its clips (written by training.data.dataset)


def neighbours(n: int, count: int) -> list[int]:
    """Frames n-2 ... n+2 clamped to a clip of ``count`` frames, oldest first: the clip's ends repeated."""
    return [min(max(n + d, 0), count - 1) for d in range(-RADIUS, RADIUS + 1)]


def round_up(size: int, multiple: int = MULTIPLE) -> int:
    """The smallest multiple of ``multiple`` that is at least ``size``."""
    return -(-size // multiple) * multiple


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1], at most ``PSNR_CAP``."""
    mse = float(np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else 10 * math.log10(1 / mse)


def dataset_clips(roots: Iterable[Path], split: str | None) -> list[Path]:
    """The clip folders of ``split`` (None: every split) in these dataset folders, in manifest order."""
    roots, clips = [Path(r) for r in roots], []
    for root in roots:
        if not (root / MANIFEST).is_file():
            raise ValueError(f"{root} has no {MANIFEST}: pass a dataset folder written by training.data.*")
        manifest = json.loads((root / MANIFEST).read_text())
        clips += [root / name for name, meta in manifest["clips"].items()
                  if split is None or meta.get("split", "train") == split]
    if not clips:
        raise ValueError(f"no {split!r} clips in {', '.join(map(str, roots))}; pass datasets that hold that split")
    return clips


def parse_size(text: str) -> tuple[int, int]:
    """``"720x1280"`` -> ``(720, 1280)``: height first; a ValueError that shows the form otherwise."""
    parts = text.strip().lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{text!r}: expected HEIGHTxWIDTH in pixels, e.g. 1088x1920")
    return int(parts[0]), int(parts[1])


def first_line(error: BaseException) -> str:
    """The first line of an error's message (ONNX Runtime's run to pages), or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@functools.cache
def cuda_driver() -> ctypes.CDLL | None:
    """The CUDA driver, initialised, read without torch or a toolkit; None where there is none."""
    try:
        lib = ctypes.CDLL("nvcuda.dll" if os.name == "nt" else "libcuda.so.1")
    except OSError:
        return None
    return lib if lib.cuInit(0) == 0 else None


def cuda_devices() -> int:
    """How many CUDA GPUs the driver offers (0 without a driver)."""
    lib, count = cuda_driver(), ctypes.c_int(0)
    if lib is None or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value
