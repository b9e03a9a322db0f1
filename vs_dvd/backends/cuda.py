"""PyTorch on an NVIDIA GPU: the DBN rebuilt from the ONNX model's weights, for GPUs without TensorRT.

The sidecar says which network the file holds (``{"name": "DBN", "width", "head", "gate"}``) and the
exporter names every weight ``<Layer>.conv.weight`` / ``.bias``, so the folded network is rebuilt
from the file alone; models of other architectures run on the cpu or trt backends, which
execute any ONNX graph.
"""
from __future__ import annotations

import importlib.util
import queue
from collections.abc import Sequence
from contextlib import contextmanager
from importlib import metadata

import numpy as np
import vapoursynth as vs

OTHER_BACKENDS = "use backend='cpu' or backend='trt', which run any ONNX model"


def runtime_version() -> str | None:
    """``"torch 2.x"``, None without torch or onnx (which reads the weights): the ``cuda`` extra."""
    if importlib.util.find_spec("onnx") is None:
        return None
    try:
        return "torch " + metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def load_dbn(model):
    """The folded DBN that ``model`` (a checked ``vs_dvd.model.ModelInfo``) holds, float32 on the CPU, in eval mode."""
    from ..network import DBN

    try:
        return DBN.from_onnx(model.path, model.architecture)
    except ValueError as e:
        raise vs.Error(f"dvd.Deblur: backend='cuda' rebuilds the DBN from the model's weights, but {e}; "
                       f"{OTHER_BACKENDS}, or export the model with training/export.py") from None


class CudaBackend:
    """One network on one GPU, shared by ``num_streams`` CUDA streams (one inference each at a time)."""

    name = "cuda"

    def __init__(self, network, device, fp16: bool, num_streams: int):
        import torch

        self._torch = torch
        self._device = device
        self._dtype = torch.float16 if fp16 else torch.float32
        self._network = network.to(device, self._dtype)
        self._streams: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(num_streams):
            self._streams.put(torch.cuda.Stream(device))

    @contextmanager
    def _stream(self):
        """A free stream, made current: blocks while all ``num_streams`` are busy."""
        stream = self._streams.get()
        try:
            with self._torch.cuda.stream(stream):
                yield stream
        finally:
            self._streams.put(stream)

    def upload(self, rgb: np.ndarray):
        with self._stream() as stream:
            frame = self._torch.from_numpy(rgb).to(self._device, self._dtype)
            stream.synchronize()  # other streams read it, and nothing orders them after this one
        return frame

    def infer(self, frames: Sequence) -> np.ndarray:
        with self._stream(), self._torch.inference_mode():
            batch = self._torch.cat(list(frames))[None]
            # .cpu() waits for the stream: the inputs are no longer in use when this returns
            return self._network(batch)[0].float().cpu().numpy()


def create(model, *, device_id: int, fp16: bool, num_streams: int, num_threads: int,
           shape: tuple[int, int]) -> CudaBackend:
    """The DBN on GPU ``device_id``; ``num_threads`` does not apply on the GPU, and any ``shape`` runs."""
    import torch

    if not torch.cuda.is_available():
        raise vs.Error(f"dvd.Deblur: backend='cuda' needs PyTorch built with CUDA, but torch "
                       f"{torch.__version__} sees no CUDA GPU; install a CUDA build "
                       "(https://pytorch.org/get-started/locally/), or use backend='trt' or 'cpu'")
    return CudaBackend(load_dbn(model), torch.device("cuda", device_id), fp16, num_streams)
