"""The DBN encoder-decoder of Su et al. (CVPR 2017), as in the authors' Torch7 model.

It lives on the runtime side because two packages need it: ``training`` trains it and
``vs_dvd``'s PyTorch backend rebuilds it from the exported ONNX weights (``DBN.from_onnx``, which
raises plain exceptions that each caller words for its users). Importing this module imports
torch, so ``vs_dvd/__init__`` never does.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .basics import FRAMES, MULTIPLE
from .model import sidecar_path

HEADS = ("residual", "sigmoid")
BN_EPS = 1e-3
LINKS = ("Cast", "Identity")  # ONNX nodes between a stored initializer and the weight name it feeds


@dataclass(frozen=True)
class DBNConfig:
    """What the sidecar records so a runtime can rebuild the network."""

    width: int = 64
    head: str = "residual"
    gate: bool = False  # a small per-pixel gate on the network's change to the centre frame (see Gate)

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"width must be positive, got {self.width}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")

    def to_dict(self) -> dict:
        return {"name": "DBN", **asdict(self)}


class Block(nn.Module):
    """Convolution (or 4x4 stride-2 transposed convolution) + BatchNorm + optional ReLU.

    ``folded`` blocks carry the BatchNorm inside the convolution's bias, as exported to ONNX.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1,
                 up: bool = False, relu: bool = True, folded: bool = False):
        super().__init__()
        if up:
            self.conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=folded)
        else:
            self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=folded)
        self.bn = nn.Identity() if folded else nn.BatchNorm2d(cout, eps=BN_EPS)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.relu else x


# name: (input channels, output channels, kernel, stride, up, relu)
def _layer_table(w: int) -> list[tuple[str, int, int, int, int, bool, bool]]:
    c3 = 3 * FRAMES
    return [
        ("F0", c3, w, 5, 1, False, True),
        ("D1", w, w, 3, 2, False, True),
        ("F1_1", w, 2 * w, 3, 1, False, True),
        ("F1_2", 2 * w, 2 * w, 3, 1, False, True),
        ("D2", 2 * w, 4 * w, 3, 2, False, True),
        ("F2_1", 4 * w, 4 * w, 3, 1, False, True),
        ("F2_2", 4 * w, 4 * w, 3, 1, False, True),
        ("F2_3", 4 * w, 4 * w, 3, 1, False, True),
        ("D3", 4 * w, 8 * w, 3, 2, False, True),
        ("F3_1", 8 * w, 8 * w, 3, 1, False, True),
        ("F3_2", 8 * w, 8 * w, 3, 1, False, True),
        ("F3_3", 8 * w, 8 * w, 3, 1, False, True),
        ("U1", 8 * w, 4 * w, 4, 2, True, False),
        ("F4_1", 4 * w, 4 * w, 3, 1, False, True),
        ("F4_2", 4 * w, 4 * w, 3, 1, False, True),
        ("F4_3", 4 * w, 4 * w, 3, 1, False, True),
        ("U2", 4 * w, 2 * w, 4, 2, True, False),
        ("F5_1", 2 * w, 2 * w, 3, 1, False, True),
        ("F5_2", 2 * w, w, 3, 1, False, True),
        ("U3", w, w, 4, 2, True, False),
        ("F6_1", w, c3, 3, 1, False, True),
        ("F6_2", c3, 3, 3, 1, False, False),
    ]


# The gate sees the five frames, how much sharper the centre is than its neighbours (two channels, each
# one value per window) and the proposed change at full resolution, then decides on a quarter-resolution
# grid with a receptive field of about 40 pixels: 1 % of DBN's compute.
_GATE_TABLE = [
    ("G0", 3 * FRAMES + 2 + 3, 16, 3, 1, False, True),
    ("G1", 16, 24, 3, 2, False, True),
    ("G2", 24, 32, 3, 2, False, True),
    ("G3", 32, 32, 3, 1, False, True),
    ("G4", 32, 32, 3, 1, False, True),
    ("G5", 32, 1, 1, 1, False, False),
]
GATE_OPEN = 5.0  # the new gate's logit: sigmoid(5) = 0.993, so it starts by passing the change through
ENERGY_FLOOR = 1e-4  # added to each frame's mean |Laplacian|: flat frames compare as equally sharp


def relative_sharpness(x: torch.Tensor) -> torch.Tensor:
    """N x 2: the log of the centre's mean |Laplacian| (of grey) over its neighbours' mean, and over the
    larger of its two adjacent frames'. A lucky sharp frame between blurry ones scores well above 0.
    Computed in float32 whatever the autocast: bf16 rounding would swamp the Laplacian of a sharp frame."""
    with torch.autocast(x.device.type, enabled=False):
        n, _, h, w = x.shape
        grey = x.float().reshape(n, FRAMES, 3, h, w).mean(2)
        laplacian = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], device=x.device)
        kernel = laplacian.expand(FRAMES, 1, 3, 3)
        energy = nn.functional.conv2d(grey, kernel, groups=FRAMES).abs().mean((2, 3)) + ENERGY_FLOOR
        centre = energy[:, 2].log()
        return torch.stack([centre - energy[:, [0, 1, 3, 4]].mean(1).log(),
                            centre - torch.maximum(energy[:, 1], energy[:, 3]).log()], 1)


class Gate(nn.Module):
    """How much of DBN's change to keep, per pixel in [0, 1]: ``centre + gate * change``.

    DBN fed a sharp centre between blurry, misplaced neighbours pastes their edges in (several dB lost
    on real footage with lucky frames). Trained on such windows with DBN frozen, the gate learns to shut
    there and stay open on blurry centres, so DBN's deblurring is kept as it was.
    """

    def __init__(self):
        super().__init__()
        for name, cin, cout, k, s, up, relu in _GATE_TABLE:  # convolutions with bias, no BatchNorm
            self.add_module(name, Block(cin, cout, k, s, up, relu, folded=True))
        nn.init.zeros_(self.G5.conv.weight)
        nn.init.constant_(self.G5.conv.bias, GATE_OPEN)

    def forward(self, x: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
        sharpness = relative_sharpness(x).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        h = torch.cat([x, sharpness, change], 1)
        for name, *_ in _GATE_TABLE:
            h = getattr(self, name)(h)
        return torch.sigmoid(nn.functional.interpolate(h, scale_factor=4, mode="bilinear", align_corners=False))


class DBN(nn.Module):
    """Five RGB frames in [0, 1] (N x 15 x H x W, oldest first) -> sharp centre frame (N x 3 x H x W)."""

    def __init__(self, config: DBNConfig = DBNConfig(), folded: bool = False):
        super().__init__()
        self.config, self.folded = config, folded
        for name, cin, cout, k, s, up, relu in _layer_table(config.width):
            self.add_module(name, Block(cin, cout, k, s, up, relu, folded))
        if config.head == "residual" and not folded:
            # The untrained network is exactly the identity on the centre frame.
            nn.init.zeros_(self.F6_2.bn.weight)
        self.gate = Gate() if config.gate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centre = x[:, 6:9]
        f0 = self.F0(x)
        f1 = self.F1_2(self.F1_1(self.D1(f0)))
        f2 = self.F2_3(self.F2_2(self.F2_1(self.D2(f1))))
        f3 = self.F3_3(self.F3_2(self.F3_1(self.D3(f2))))
        s1 = torch.relu(self.U1(f3) + f2)
        s2 = torch.relu(self.U2(self.F4_3(self.F4_2(self.F4_1(s1)))) + f1)
        s3 = torch.relu(self.U3(self.F5_2(self.F5_1(s2))) + f0)
        s4 = self.F6_2(self.F6_1(s3)) + centre
        if self.config.head == "sigmoid":
            out = torch.sigmoid(s4)
        else:
            out = s4 if self.training and self.gate is None else s4.clamp(0.0, 1.0)
        if self.gate is None:
            return out
        change = out - centre
        return centre + self.gate(x, change) * change

    @classmethod
    def from_onnx(cls, path: str | Path, architecture: dict | None = None) -> DBN:
        """The folded DBN that an exported ONNX file holds, float32 on the CPU, in eval mode.

        ``architecture`` is the sidecar's (``{"name": "DBN", "width", "head", "gate"}``), read from the
        sidecar next to ``path`` when not given; the exporter names every weight ``<Layer>.conv.weight`` /
        ``.bias``, so the file alone holds the rest. A ValueError says what does not fit.
        """
        path = Path(path)
        if architecture is None:
            architecture = exported_sidecar(path).get("architecture")
            if architecture is None:
                raise ValueError(f"the sidecar of model {path} names no architecture")
        if architecture.get("name") != "DBN":
            raise ValueError(f"model {path} is a {architecture.get('name')!r} according to its sidecar, not a DBN")
        try:
            config = DBNConfig(width=int(architecture["width"]), head=architecture.get("head", "residual"),
                               gate=bool(architecture.get("gate", False)))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"the sidecar of model {path} describes no valid DBN ({architecture}: {e})") from None
        network = cls(config, folded=True)
        stored, expected = onnx_weights(path), network.state_dict()
        problems = [f"{name} is missing" if name not in stored else
                    f"{name} is {list(stored[name].shape)}, not {list(tensor.shape)}"
                    for name, tensor in expected.items()
                    if name not in stored or stored[name].shape != tuple(tensor.shape)]
        if problems:
            raise ValueError(f"model {path} is not the DBN of width {config.width} its sidecar describes "
                             f"({'; '.join(problems[:3])})")
        network.load_state_dict({name: torch.from_numpy(stored[name].astype(np.float32)) for name in expected})
        return network.eval()


def flops(network: nn.Module, height: int, width: int, multiple: int = MULTIPLE) -> int:
    """Floating-point operations of one forward pass on a 1 x C x ``height`` x ``width`` input (multiples
    of ``multiple``): two per multiply-add of every convolution (transposed ones too), the usual dense
    count; the elementwise rest (ReLUs, skips, the gate's arithmetic) is left out. Every layer's size is
    the input's scaled by its stride, so the count is linear in the pixels: it is taken on a
    ``multiple`` x ``multiple`` input and scaled."""
    if height % multiple or width % multiple:
        raise ValueError(f"{height}x{width} is not a multiple of {multiple}")
    total = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        transposed = isinstance(module, nn.ConvTranspose2d)
        pixels = (inputs[0] if transposed else output)[0, 0].numel()  # where each weight is applied once
        total += 2 * module.weight.numel() * pixels // module.groups ** transposed

    hooks = [m.register_forward_hook(count) for m in network.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    first = next(m for m in network.modules() if isinstance(m, nn.Conv2d))
    training = network.training
    try:
        with torch.no_grad():  # in eval mode, so that BatchNorm's running statistics stay as they are
            network.eval()(torch.rand(1, first.in_channels, multiple, multiple, device=first.weight.device))
    finally:
        network.train(training)
        for hook in hooks:
            hook.remove()
    return total * (height // multiple) * (width // multiple)


def exported_sidecar(path: str | Path) -> dict:
    """The JSON sidecar of an exported model, checked to belong to it (SHA-256); a ValueError otherwise."""
    path, side = Path(path), sidecar_path(path)
    if not side.is_file():
        raise ValueError(f"model {path} has no sidecar {side}, which says which network it holds")
    try:
        sidecar = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"the sidecar {side} of model {path} is not readable JSON ({e})") from None
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    if not isinstance(sidecar, dict) or sidecar.get("sha256") != sha256:
        raise ValueError(f"model {path} does not match its sidecar {side} (sha256 {sha256[:12]}): the .onnx "
                         "is truncated or was replaced")
    return sidecar


def onnx_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor an ONNX graph can name through initializers and Cast/Identity links (fp16 weights too)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    tensors = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:  # ONNX nodes are topologically sorted: links of links resolve in order
        if node.op_type in LINKS and node.input and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    return tensors


def layer_names(gate: bool = False) -> list[str]:
    """Layer names in forward order, as the paper labels them, then the gate's (``G0``...) if it has one."""
    return [row[0] for row in _layer_table(1)] + [f"gate.{row[0]}" for row in _GATE_TABLE if gate]


def with_gate(model: DBN) -> DBN:
    """A gated copy of ``model``: its gate if it has one, else a new one, open (it keeps 99.3 % of the change)."""
    gated = DBN(replace(model.config, gate=True), folded=model.folded)
    gated.load_state_dict(model.state_dict(), strict=False)  # all but a new gate's weights
    return gated


@torch.no_grad()
def fold_batchnorm(model: DBN) -> DBN:
    """A folded copy (BatchNorm absorbed into each convolution) for export and inference."""
    folded = DBN(model.config, folded=True)
    for name in layer_names(model.config.gate):
        src: Block = model.get_submodule(name)
        dst: Block = folded.get_submodule(name)
        bn = src.bn
        if isinstance(bn, nn.Identity):  # the gate's layers have no BatchNorm
            dst.load_state_dict(src.state_dict())
            continue
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        weight = src.conv.weight.float()
        # Conv2d weights are (out, in, k, k); ConvTranspose2d weights are (in, out, k, k).
        view = (1, -1, 1, 1) if isinstance(src.conv, nn.ConvTranspose2d) else (-1, 1, 1, 1)
        dst.conv.weight.copy_(weight * scale.reshape(view))
        dst.conv.bias.copy_(shift)
    return folded.eval()
