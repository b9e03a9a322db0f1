"""OpenVINO on the CPU: the ONNX model compiled for this CPU and this tile shape.

Faster than ONNX Runtime on the same CPU, and with ``fp16`` it computes in bfloat16 where the CPU
does so natively (AVX512-BF16, AMX); ``bench/cpu_backends.py`` measures how much (README's Benchmark).
"""
from __future__ import annotations

import importlib
import queue
import sys
from collections.abc import Sequence
from importlib import metadata
from types import ModuleType

import numpy as np
import vapoursynth as vs

from ..hardware import cpu_flags


def runtime_version() -> str | None:
    try:
        return "openvino " + metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return None


def import_openvino() -> ModuleType:
    """``import openvino`` without its telemetry. Unless the user has opted out, that import sends a usage
    event to Google Analytics from a forked process: not something a video filter may do unasked, and
    forking is unsafe in a multithreaded host like vspipe. With ``openvino_telemetry`` hidden during the
    import, OpenVINO falls back to its own no-op stub (a process that imported it before keeps its choice)."""
    return import_without_telemetry("openvino")


def import_without_telemetry(name: str) -> ModuleType:
    """``import name`` (openvino, or nncf, which reports usage the same way) with ``openvino_telemetry`` hidden."""
    if name in sys.modules or "openvino_telemetry" in sys.modules:
        return importlib.import_module(name)
    sys.modules["openvino_telemetry"] = None  # makes `import openvino_telemetry` raise ImportError
    try:
        return importlib.import_module(name)
    finally:
        del sys.modules["openvino_telemetry"]


def foreign_runtime() -> str | None:
    """Why OpenVINO's Python package cannot load in this process, None when it can. VapourSynth loads its
    plugins when the core is made: vs-mlrt's ``ov`` plugin (vapoursynth-mlrt-ov) brings its own build of
    libopenvino, and once that is loaded the Python package's check that it was built with the same
    library refuses it (only their build numbers differ). Whichever loads first wins, so a Python script
    that imports openvino before it first uses ``vs.core`` can run both."""
    try:
        import_openvino()
    except ImportError as e:
        if "mismatches with OpenVINO Runtime library version" not in str(e):
            raise
        loaded = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libopenvino.so" in line})
        return f"{', '.join(loaded) or 'another libopenvino'} is loaded already"
    return None


def precision(core, fp16: bool) -> str:
    """``bf16`` when asked for half precision and the CPU computes it natively, else ``f32``
    (emulated bf16 would be slower than f32)."""
    native = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "bf16" if fp16 and native else "f32"


def int8_pays(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the int8 IR runs faster than the floating-point model here: on x86 CPUs with AVX2 or more, where
    it did at every instruction-set level measured (``bench/README.md``); False where that is unknown (other
    CPUs, no flags)."""
    return "avx2" in cpu_flags(cpuinfo)


def compile_for_cpu(core, network, fp16: bool, **config):
    """(compiled model, its precision): ``network`` compiled for the CPU in the precision ``fp16`` picks."""
    chosen = precision(core, fp16)
    return core.compile_model(network, "CPU", {"INFERENCE_PRECISION_HINT": chosen, **config}), chosen


class OvBackend:
    """One compiled model with ``num_streams`` infer requests, each used by one inference at a time."""

    name = "ov"

    def __init__(self, model, fp16: bool, num_streams: int, num_threads: int, shape: tuple[int, int],
                 int8: bool = False):
        ov = import_openvino()
        core = ov.Core()
        config = {"NUM_STREAMS": num_streams}
        if num_threads:  # per inference, as on the cpu backend; OpenVINO shares its total among the streams
            config["INFERENCE_NUM_THREADS"] = num_threads * num_streams
        path = model.int8 if int8 else model.path
        try:
            network = core.read_model(str(path))
            channels = network.input(0).get_partial_shape()[1]
            network.reshape({network.input(0): ov.PartialShape([1, channels, *shape])})  # static: planned once
            compiled, self.precision = compile_for_cpu(core, network, fp16, **config)  # of the layers kept in float
        except RuntimeError as e:  # ONNX Runtime ran the model, OpenVINO cannot: e.g. an operator it lacks
            why = [line.strip(" -") for line in str(e).splitlines() if line.strip()][-1]
            raise vs.Error(f"dvd.Deblur: backend='ov': OpenVINO cannot run model {path} ({why}); use "
                           "backend='cpu' (ONNX Runtime), which runs it") from None
        self.int8 = int8
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(num_streams):
            self._requests.put(compiled.create_infer_request())

    def upload(self, rgb: np.ndarray) -> np.ndarray:
        return rgb

    def infer(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        batch = np.concatenate(frames)[None]
        request = self._requests.get()
        try:
            return request.infer({0: batch})[0][0].copy()  # the request reuses its output buffer
        finally:
            self._requests.put(request)


def create(model, *, device_id: int, fp16: bool, num_streams: int, num_threads: int,
           shape: tuple[int, int], int8: bool = False) -> OvBackend:
    """``device_id`` does not apply: the CPU is the only device. ``int8``: the model's int8 IR (checked)."""
    return OvBackend(model, fp16, num_streams, num_threads, shape, int8)
