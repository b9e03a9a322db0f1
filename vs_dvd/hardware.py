"""What this machine computes with: the CPU's name and the instruction sets that decide CPU speed, and the
CUDA GPUs, read without torch (for ``vs-dvd info`` and every benchmark's machine line)."""
from __future__ import annotations

import ctypes
import os
import platform

from .basics import cuda_driver

# /proc/cpuinfo flag -> the name users know. AVX-512F and VNNI speed int8 and fp32 kernels; AVX512-BF16
# and AMX are what OpenVINO needs to compute in bfloat16 (see vs_dvd.backends.ov).
CPU_FEATURES = {"avx2": "AVX2", "avx512f": "AVX-512F", "avx512_vnni": "AVX512-VNNI", "avx_vnni": "AVX-VNNI",
                "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16", "amx_int8": "AMX-INT8"}
_CC_MAJOR, _CC_MINOR = 75, 76  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR


def _cpuinfo(path: str = "/proc/cpuinfo") -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none: not Linux)."""
    try:
        with open(path) as f:
            text = f.read().split("\n\n")[0]
    except OSError:
        return {}
    return {key.strip(): value.strip() for key, value in
            (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def cpu_name() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags as Linux names them (``avx2``, ``avx512_vnni``, ``amx_int8``, ...); empty elsewhere."""
    return set(_cpuinfo(cpuinfo).get("flags", "").split())


def cpu_features() -> dict[str, bool]:
    """Each of ``CPU_FEATURES`` (by its user-facing name): whether this CPU has it."""
    flags = cpu_flags()
    return {name: flag in flags for flag, name in CPU_FEATURES.items()}


def cpu_line() -> str:
    """``"AMD EPYC 9R14; AVX2 AVX-512F; without AMX-BF16"``: the line printed beside every CPU figure."""
    features = cpu_features()
    have = [name for name, present in features.items() if present]
    lacking = [name for name, present in features.items() if not present]
    return "; ".join([cpu_name(), *([" ".join(have)] if have else []),
                      *([f"without {' '.join(lacking)}"] if lacking else [])])


def cuda_device(index: int) -> tuple[ctypes.CDLL, ctypes.c_int] | None:
    """The driver and CUDA GPU ``index``; None without a CUDA driver, ValueError past the last GPU."""
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


def describe_gpu(index: int) -> dict | None:
    """``{"name", "compute_capability"}`` of CUDA GPU ``index``, or None where no CUDA driver is installed."""
    found = cuda_device(index)
    if found is None:
        return None
    lib, dev = found
    name = ctypes.create_string_buffer(256)
    lib.cuDeviceGetName(name, len(name), dev)
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.cuDeviceGetAttribute(ctypes.byref(major), _CC_MAJOR, dev)
    lib.cuDeviceGetAttribute(ctypes.byref(minor), _CC_MINOR, dev)
    return {"name": name.value.decode(), "compute_capability": f"{major.value}.{minor.value}"}


def machine_line() -> str:
    """The CPU line, the logical CPU count and the load average: whether a figure came from a quiet machine."""
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu_line()}; {os.cpu_count()} logical CPUs{load}"
