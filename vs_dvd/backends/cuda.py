"""PyTorch on an NVIDIA GPU: the DBN rebuilt from the ONNX model's weights, for GPUs without TensorRT.

The sidecar says which network the file holds (``{"name": "DBN", "width", "head", "gate"}``) and the
exporter names every weight ``<Layer>.conv.weight`` / ``.bias``, so the folded network is rebuilt
from the file alone; models of other architectures run on the cpu or trt backends, which
execute any ONNX graph.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
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
    """One network on one torch device, run on the caller's current stream; ``vs_dvd.gpu.path`` gives each
    of ``num_streams`` frames in flight its own. Any torch device works: the tests run it on the CPU."""

    name = "cuda"

    def __init__(self, network, device, fp16: bool, num_streams: int):
        from ..gpu import mixed

        self.device = device
        self.num_streams = num_streams
        self._fp16 = fp16
        self._mixed = mixed
        self._network = mixed.prepared(network, device)

    def infer(self, frames: Sequence):
        """Five resident RGB tensors (or tiles of them), oldest first -> the sharp centre frame, float32, on the device."""
        return self._mixed.run(self._network, list(frames), self._fp16)


def create(model, *, device_id: int, fp16: bool, num_streams: int, num_threads: int,
           shape: tuple[int, int]) -> CudaBackend:
    """The DBN on GPU ``device_id``; ``num_threads`` does not apply on the GPU, and any ``shape`` runs."""
    import torch

    if not torch.cuda.is_available():
        raise vs.Error(f"dvd.Deblur: backend='cuda' needs PyTorch built with CUDA, but torch "
                       f"{torch.__version__} sees no CUDA GPU; install a CUDA build "
                       "(https://pytorch.org/get-started/locally/), or use backend='trt' or 'cpu'")
    torch.backends.cudnn.benchmark = True  # every inference has the same shape: pick the fastest kernels once
    return CudaBackend(load_dbn(model), torch.device("cuda", device_id), fp16, num_streams)
