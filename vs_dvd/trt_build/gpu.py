"""Which GPU an engine is for, read from the CUDA driver itself so building needs neither torch nor a toolkit."""
from __future__ import annotations

import ctypes

from vs_dvd.basics import cuda_driver

_CC_MAJOR, _CC_MINOR = 75, 76  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR


def _device(index: int) -> tuple[ctypes.CDLL, ctypes.c_int] | None:
    lib = cuda_driver()
    if lib is None:
        return None
    count, dev = ctypes.c_int(), ctypes.c_int()
    lib.cuDeviceGetCount(ctypes.byref(count))
    if not 0 <= index < count.value:
        raise ValueError(f"device {index}: there are {count.value} CUDA GPUs (0 to {count.value - 1}); "
                         "pick one of those")
    lib.cuDeviceGet(ctypes.byref(dev), index)
    return lib, dev


def describe(index: int) -> dict | None:
    """``{"name", "compute_capability"}`` of CUDA GPU ``index``, or None where no CUDA driver is installed."""
    found = _device(index)
    if found is None:
        return None
    lib, dev = found
    name = ctypes.create_string_buffer(256)
    lib.cuDeviceGetName(name, len(name), dev)
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.cuDeviceGetAttribute(ctypes.byref(major), _CC_MAJOR, dev)
    lib.cuDeviceGetAttribute(ctypes.byref(minor), _CC_MINOR, dev)
    return {"name": name.value.decode(), "compute_capability": f"{major.value}.{minor.value}"}


def activate(index: int) -> None:
    """Make GPU ``index`` current on this thread, so the TensorRT builder and runtime use it."""
    found = _device(index)
    if found is None:
        return
    lib, dev = found
    ctx = ctypes.c_void_p()
    if lib.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) != 0 or lib.cuCtxSetCurrent(ctx) != 0:
        raise RuntimeError(f"device {index}: the CUDA driver would not open a context on it; "
                           "check nvidia-smi and CUDA_VISIBLE_DEVICES")
