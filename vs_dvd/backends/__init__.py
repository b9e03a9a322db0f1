"""The inference backends behind ``backend=``, the interface they share, and the choice for "auto".

Each backend is a module (``cpu``, ``ov``, ``cuda``, ``trt``) with two functions:

- ``runtime_version() -> str | None``: its runtime's version, None when that is not installed;
- ``create(model, *, device_id, fp16, num_streams, num_threads, shape) -> Backend``, where
  ``shape`` is the (h, w) of every tensor ``infer`` will see (a tile or a padded frame).

Backend modules import their runtime (onnxruntime, OpenVINO, torch, TensorRT) inside ``create``, so that
``import vs_dvd`` stays light.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import vapoursynth as vs

from ..basics import cuda_devices

NAMES = ("trt", "cuda", "ov", "cpu")  # "auto" tries them in this order
ON_THE_CPU = ("ov", "cpu")  # backends whose only device is the host
TRT_INSTALL = ("install NVIDIA TensorRT 10+ (pip install tensorrt --extra-index-url "
               "https://pypi.nvidia.com) or, for GeForce RTX GPUs, TensorRT-RTX (pip install "
               "tensorrt-rtx-cu13-libs tensorrt-rtx-cu13-bindings)")
CUDA_INSTALL = "install PyTorch with CUDA (pip install 'vs-dvd[cuda]')"
OV_INSTALL = "install OpenVINO (pip install 'vs-dvd[ov]')"
OV_CLASH = "OpenVINO's Python package refuses to share this process with another build of OpenVINO"
OV_CLASH_FIX = ("use backend='cpu' (ONNX Runtime), or keep one OpenVINO: pip uninstall vapoursynth-mlrt-ov, or pip "
                "uninstall openvino; in a Python script, importing openvino before the first use of vs.core also works")


class Backend(Protocol):
    """What the host backends (cpu, ov) offer. The torch backends (cuda, trt) have no ``upload``: they
    have ``device`` (a torch device) and ``num_streams`` instead, ``vs_dvd.gpu.path`` makes their resident
    frames, and ``infer`` takes and returns float32 tensors on that device, on the current stream."""

    name: str  # "cpu" | "ov" | "cuda" | "trt"

    def upload(self, rgb: np.ndarray) -> Any:
        """One padded source frame (3 x H x W float32, C-contiguous) -> its resident form.

        Called once per source frame; the result is cached and shared by the five outputs using it.
        """

    def infer(self, frames: Sequence[Any]) -> Any:
        """Five resident frames, or same-size ``[..., y0:y1, x0:x1]`` slices of them, oldest first
        -> the sharp centre frame as a 3 x h x w float32 array. Called concurrently."""


def module(name: str) -> ModuleType | None:
    """The backend module ``name``, None if it is not part of this installation."""
    full = f"{__name__}.{name}"
    return importlib.import_module(full) if importlib.util.find_spec(full) else None


def runtime_version(name: str) -> str | None:
    """The version of backend ``name``'s runtime, None when it is not installed."""
    backend = module(name)
    return backend.runtime_version() if backend else None


def _torch_sees_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _trt_cannot_build_for(device_id: int) -> str | None:
    """Why the installed TensorRT flavour cannot build for GPU ``device_id`` (TensorRT-RTX skips Hopper), else None."""
    from vs_dvd.trt_build import cannot_build_for

    return cannot_build_for(device_id)


def auto_choice(device_id: int = 0) -> tuple[str, dict[str, str]]:
    """The backend "auto" picks on this machine for ``device_id``, and why it passed over each one before it."""
    gpus, passed = cuda_devices(), {}
    if not gpus:
        passed["trt"] = passed["cuda"] = "the CUDA driver reports no NVIDIA GPU"
    else:
        if not runtime_version("trt"):
            passed["trt"] = f"TensorRT is not installed; {TRT_INSTALL}"
        elif why := _trt_cannot_build_for(device_id):
            passed["trt"] = why
        else:
            return "trt", passed
        if not runtime_version("cuda"):
            passed["cuda"] = f"PyTorch is not installed; {CUDA_INSTALL}"
        elif not _torch_sees_cuda():
            passed["cuda"] = "PyTorch sees no CUDA GPU (a CPU-only build of torch?)"
        else:
            return "cuda", passed
    if not runtime_version("ov"):
        passed["ov"] = f"OpenVINO is not installed; {OV_INSTALL}"
    elif clash := module("ov").foreign_runtime():
        passed["ov"] = f"{OV_CLASH}: {clash}; {OV_CLASH_FIX}"
    else:
        return "ov", passed
    return "cpu", passed


def resolve(backend: str, device_id: int) -> str:
    """The backend to use for ``backend`` ("auto" or a name), checked to be usable on ``device_id``."""
    if backend == "auto":
        backend, passed = auto_choice(device_id)
        clash = passed.get("ov", "").startswith(OV_CLASH)
        vs.core.log_message(vs.MESSAGE_TYPE_WARNING if clash else vs.MESSAGE_TYPE_INFORMATION,
                            f"dvd.Deblur: backend='auto' chose '{backend}'"
                            + "".join(f"; not '{name}': {why}" for name, why in passed.items()))
    if backend == "trt" and not runtime_version("trt"):
        raise vs.Error(f"dvd.Deblur: backend='trt' needs TensorRT, which is not installed; "
                       f"{TRT_INSTALL}, or use backend='cuda' or 'cpu'")
    if backend == "cuda" and not runtime_version("cuda"):
        raise vs.Error(f"dvd.Deblur: backend='cuda' needs PyTorch, which is not installed; "
                       f"{CUDA_INSTALL}, or use backend='cpu'")
    if backend == "ov" and not runtime_version("ov"):
        raise vs.Error(f"dvd.Deblur: backend='ov' needs OpenVINO, which is not installed; "
                       f"{OV_INSTALL}, or use backend='cpu' (ONNX Runtime)")
    if backend == "ov" and (clash := module("ov").foreign_runtime()):
        raise vs.Error(f"dvd.Deblur: backend='ov' cannot run here: {OV_CLASH}: {clash}; {OV_CLASH_FIX}")
    devices = 1 if backend in ON_THE_CPU else cuda_devices()
    if backend not in ON_THE_CPU and devices == 0:
        raise vs.Error(f"dvd.Deblur: backend='{backend}' needs an NVIDIA GPU, but the CUDA driver "
                       "reports none; use backend='cpu' (or 'auto')")
    if device_id >= devices:
        what = "a single device, 0" if backend in ON_THE_CPU else f"{devices} CUDA GPU(s)"
        raise vs.Error(f"dvd.Deblur: device_id={device_id} is out of range: backend='{backend}' has "
                       f"{what}; pass device_id between 0 and {devices - 1}")
    return backend


def use_int8(int8: bool | None, backend: str, model, fp16: bool) -> bool:
    """Whether to run ``model``'s int8 IR on ``backend`` (resolved): where asked, refused with the fix where it
    cannot run; left out (None), where it pays: on ov with ``fp16`` (less precision allowed), with an IR, on a
    CPU where it measured faster (``ov.int8_pays``)."""
    if int8 is None:
        return backend == "ov" and fp16 and model.int8 is not None and module("ov").int8_pays()
    if not int8:
        return False
    if backend != "ov":
        raise vs.Error(f"dvd.Deblur: int8=True runs on backend='ov' (OpenVINO) only, and this call runs on "
                       f"backend='{backend}'; pass backend='ov' ({OV_INSTALL} if it is missing) or leave int8 out")
    if model.int8 is None:
        raise vs.Error(f"dvd.Deblur: int8=True, but model {model.path} {model.int8_problem}; make it with "
                       f"python -m training.quantise {model.path} DATASET_DIR... (clips from training.data.*), "
                       "or leave int8 out")
    return True


def free_memory(backend: str, device_id: int) -> int:
    """Bytes the backend can still allocate: host memory for cpu and ov, GPU memory otherwise."""
    if backend in ON_THE_CPU:
        try:
            with open("/proc/meminfo") as f:
                info = dict(line.split(":", 1) for line in f)
            return int(info["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):  # not Linux
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    import torch

    return torch.cuda.mem_get_info(device_id)[0]


def create(name: str, model, auto: bool = False, **options) -> Backend:
    """An instance of backend ``name`` (already ``resolve``d) for ``model``. With ``auto``, a trt engine
    that cannot be built or loaded is reported in one log line and the cuda backend is used instead."""
    try:
        return module(name).create(model, **options)
    except vs.Error as e:
        if not (auto and name == "trt" and runtime_version("cuda") and _torch_sees_cuda()):
            raise
        vs.core.log_message(vs.MESSAGE_TYPE_WARNING, f"{e} (backend='auto': continuing on backend='cuda')")
        for engine_option in ("engine_folder", "budget"):  # trt's alone
            options.pop(engine_option, None)
        return module("cuda").create(model, **options)
