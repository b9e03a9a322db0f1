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
LINKS = ("Cast", "Identity")  # nodes between a stored initializer and the weight name it feeds


def runtime_version() -> str | None:
    """``"torch 2.x"``, None without torch or onnx (which reads the weights): the ``cuda`` extra."""
    if importlib.util.find_spec("onnx") is None:
        return None
    try:
        return "torch " + metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def _weights(path) -> dict[str, np.ndarray]:
    """Every tensor the graph can name through initializers and Cast/Identity links (fp16 weights too)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    tensors = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:  # ONNX nodes are topologically sorted: links of links resolve in order
        if node.op_type in LINKS and node.input and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    return tensors


def load_dbn(model, who: str = "dvd.Deblur: backend='cuda'", instead: str = OTHER_BACKENDS):
    """The folded DBN that ``model`` (a checked ``vs_dvd.model.ModelInfo``) holds, float32 on the CPU, in eval mode.

    ``who`` and ``instead`` word the errors for the caller (training's ``--init`` shares this)."""
    import torch

    from ..network import DBN, DBNConfig

    architecture = model.architecture
    if architecture is None:
        raise vs.Error(f"{who} rebuilds the network from the model's sidecar, but "
                       f"model {model.path} has none; {instead}, or export the model with "
                       "training/export.py, which writes the sidecar")
    if architecture.get("name") != "DBN":
        raise vs.Error(f"{who} runs DBN models only, and model {model.path} is a "
                       f"{architecture.get('name')!r} according to its sidecar; {instead}")
    try:
        network = DBN(DBNConfig(width=int(architecture["width"]), head=architecture.get("head", "residual"),
                                gate=bool(architecture.get("gate", False))), folded=True)
    except (KeyError, TypeError, ValueError) as e:
        raise vs.Error(f"{who}: the sidecar of model {model.path} describes no valid DBN "
                       f"({architecture}: {e}); re-export it with training/export.py, or "
                       f"{instead}") from None
    stored = _weights(model.path)
    expected = network.state_dict()
    problems = [f"{name} is missing" if name not in stored else
                f"{name} is {list(stored[name].shape)}, not {list(tensor.shape)}"
                for name, tensor in expected.items()
                if name not in stored or stored[name].shape != tuple(tensor.shape)]
    if problems:
        raise vs.Error(f"{who}: model {model.path} is not the DBN of width {architecture['width']} "
                       f"its sidecar describes ({'; '.join(problems[:3])}); re-export it with "
                       f"training/export.py, or {instead}")
    network.load_state_dict({name: torch.from_numpy(stored[name].astype(np.float32)) for name in expected})
    return network.eval()


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
