"""ONNX Runtime on the CPU: the backend that runs everywhere, and the reference the others match."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import metadata

import numpy as np


def runtime_version() -> str | None:
    try:
        return "onnxruntime " + metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return None


def fix_axes(options, model, shape: tuple[int, int]) -> None:
    """Pin the input's free N, H, W to 1 x h x w: ONNX Runtime then plans a static graph, which runs
    the DBN faster than a dynamic one (vs-mlrt fixes them too, by rewriting the model)."""
    named = [(axis, size) for axis, size in zip(model.input_axes, (1, *shape)) if axis]
    if len({axis for axis, _ in named}) == len(named):  # H and W sharing one name stay free
        for axis, size in named:
            options.add_free_dimension_override_by_name(axis, size)


class CpuBackend:
    """One ONNX Runtime session; ``num_streams`` runs may share it at once (it is thread-safe)."""

    name = "cpu"

    def __init__(self, model, num_streams: int, num_threads: int, shape: tuple[int, int]):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads  # 0: one per physical core
        options.inter_op_num_threads = 1  # the DBN is a chain: nothing to run side by side
        fix_axes(options, model, shape)
        self._session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
        self._input, self._output = model.input_name, model.output_name
        self._streams = threading.Semaphore(num_streams)

    def upload(self, rgb: np.ndarray) -> np.ndarray:
        return rgb

    def infer(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        batch = np.concatenate(frames)[None]
        with self._streams:
            return self._session.run([self._output], {self._input: batch})[0][0]


def create(model, *, device_id: int, fp16: bool, num_streams: int, num_threads: int,
           shape: tuple[int, int]) -> CpuBackend:
    """``device_id`` and ``fp16`` do not apply on the CPU (always fp32)."""
    return CpuBackend(model, num_streams, num_threads, shape)
