"""Which GPU an engine is for, read from the CUDA driver itself so building needs neither torch nor a toolkit."""
from __future__ import annotations

import ctypes

from vs_dvd.hardware import cuda_device
from vs_dvd.hardware import describe_gpu as describe

__all__ = ["activate", "describe"]


def activate(index: int) -> None:
    """Make GPU ``index`` current on this thread, so the TensorRT builder and runtime use it."""
    found = cuda_device(index)
    if found is None:
        return
    lib, dev = found
    ctx = ctypes.c_void_p()
    if lib.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) != 0 or lib.cuCtxSetCurrent(ctx) != 0:
        raise RuntimeError(f"device {index}: the CUDA driver would not open a context on it; "
                           "check nvidia-smi and CUDA_VISIBLE_DEVICES")
