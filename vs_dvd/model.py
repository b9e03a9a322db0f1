"""The ONNX model and its JSON sidecar: found, hashed and checked once, when Deblur is called.

Every problem with a model file surfaces here as a ``vs.Error`` that names the file, so no
frame request ever fails because of a bad model.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import vapoursynth as vs

from . import align
from .basics import FRAMES, MULTIPLE, first_line

BUNDLED = Path(__file__).parent / "data" / "dbn.onnx"
IN_CHANNELS = 3 * FRAMES
OUT_CHANNELS = 3
SIDECAR_FORMAT = 1
FIX = "re-export it with training/export.py, or leave model= out to use the bundled model"


@dataclass(frozen=True)
class ModelInfo:
    """What the backends need to know about a checked model."""

    path: Path
    sha256: str
    sidecar: dict | None  # the JSON next to the .onnx, None for a bare user model
    input_name: str
    output_name: str
    multiple: int  # input height and width must be multiples of this
    input_axes: tuple[str | None, str | None, str | None]  # names of the input's free N, H, W

    @property
    def architecture(self) -> dict | None:
        """``{"name": "DBN", "width": ..., "head": ..., "gate": ...}`` from the sidecar, if it has one."""
        return self.sidecar.get("architecture") if self.sidecar else None

    @property
    def align(self) -> str | None:
        """The ``vs_dvd.align`` method the model was trained with, None for unaligned windows."""
        return self.sidecar.get("align") if self.sidecar else None

    @property
    def placeholder(self) -> bool:
        return bool(self.sidecar and self.sidecar.get("placeholder"))

    def bytes_per_pixel(self, half: bool) -> int:
        """Peak inference memory per input pixel: 8 floats per unit of DBN width plus 16, a margin over
        ONNX Runtime's peak. A model without sidecar counts as the paper's 64."""
        width = (self.architecture or {}).get("width", 64)
        return (8 * width + 16) * (2 if half else 4)

    def describe(self) -> str:
        """One line for Version() and logs."""
        text = f"{self.path.name} sha256:{self.sha256[:12]}"
        if self.architecture:
            arch = self.architecture
            text += f" {arch.get('name')} width {arch.get('width')} {arch.get('head')} head"
            if arch.get("gate"):
                text += ", gated"
        if self.align:
            text += f", neighbours aligned ({self.align})"
        if self.placeholder:
            text += " (PLACEHOLDER: " + self.sidecar.get("description", "not trained to deblur") + ")"
        return text


def sidecar_path(onnx_path: Path) -> Path:
    """``model.onnx`` -> ``model.json``, as training/export.py writes them."""
    return Path(onnx_path).with_suffix(".json")


def load(path: str | Path | None = None) -> ModelInfo:
    """Check the model at ``path`` (the bundled model when None) and describe it."""
    path = Path(path).expanduser().resolve() if path is not None else BUNDLED
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise vs.Error(f"dvd.Deblur: model {path} {problem}; pass model= the path of an "
                       ".onnx file, or leave it out to use the bundled model")
    stat = path.stat()
    sidecar = sidecar_path(path)
    sidecar_stat = sidecar.stat().st_mtime_ns if sidecar.is_file() else None
    return _load(path, stat.st_size, stat.st_mtime_ns, sidecar_stat)


@lru_cache(maxsize=8)
def _load(path: Path, size: int, mtime_ns: int, sidecar_mtime_ns: int | None) -> ModelInfo:
    # size and mtimes only key the cache: a rewritten model is checked again.
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    sidecar = _read_sidecar(path, sha256) if sidecar_mtime_ns is not None else None
    multiple = int(sidecar.get("multiple", MULTIPLE)) if sidecar else MULTIPLE
    input_name, output_name, input_axes = _check_graph(path, data, multiple)
    if sidecar and (sidecar.get("input", input_name), sidecar.get("output", output_name)) != (
            input_name, output_name):
        raise vs.Error(f"dvd.Deblur: model {path} has input {input_name!r} and output "
                       f"{output_name!r}, but its sidecar {sidecar_path(path)} names "
                       f"{sidecar.get('input')!r} and {sidecar.get('output')!r}; {FIX}")
    return ModelInfo(path, sha256, sidecar, input_name, output_name, multiple, input_axes)


def _read_sidecar(path: Path, sha256: str) -> dict:
    side = sidecar_path(path)
    try:
        sidecar = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise vs.Error(f"dvd.Deblur: the sidecar {side} of model {path} is not readable JSON ({e}); "
                       "fix it, or delete it to let the plugin read the model alone") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != SIDECAR_FORMAT:
        raise vs.Error(f"dvd.Deblur: the sidecar {side} of model {path} is not sidecar format "
                       f"{SIDECAR_FORMAT}; {FIX}")
    if sidecar.get("sha256") != sha256:
        raise vs.Error(f"dvd.Deblur: model {path} does not match its sidecar {side} (sha256 "
                       f"{sha256[:12]}, sidecar says {str(sidecar.get('sha256'))[:12]}): the .onnx "
                       f"is truncated or was replaced; {FIX}")
    if sidecar.get("frames", FRAMES) != FRAMES:
        raise vs.Error(f"dvd.Deblur: model {path} takes {sidecar.get('frames')} frames according to "
                       f"{side}, but this plugin feeds {FRAMES}; {FIX}")
    try:
        align.check_method(sidecar.get("align"))
    except ValueError as e:
        raise vs.Error(f"dvd.Deblur: model {path} was trained on windows aligned in a way this version of "
                       f"vs-dvd cannot reproduce ({e}, says {side}); update vs-dvd, or use another model") from None
    return sidecar


def _check_graph(path: Path, data: bytes, multiple: int) -> tuple[str, str, tuple]:
    """The input and output names and the names of the input's free N, H, W axes (None where
    unnamed or fixed), once the graph is known to take N x 15 x H x W -> N x 3 x H x W."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ONNX Runtime raises several unrelated types for unreadable models
        raise vs.Error(f"dvd.Deblur: model {path} is not a readable ONNX model ({first_line(e)}); "
                       f"{FIX}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or not outputs:
        raise vs.Error(f"dvd.Deblur: model {path} has {len(inputs)} inputs and {len(outputs)} "
                       f"outputs; it must have one input (five RGB frames) and one output; {FIX}")
    _check_tensor(path, "input", inputs[0], IN_CHANNELS)
    _check_tensor(path, "output", outputs[0], OUT_CHANNELS)
    _check_run(path, session, inputs[0].name, multiple)
    axes = tuple(d if isinstance(d, str) else None for d in (inputs[0].shape[0], *inputs[0].shape[2:]))
    return inputs[0].name, outputs[0].name, axes


def _check_run(path: Path, session, input_name: str, multiple: int) -> None:
    """One tiny run: declared shapes can hide a model that fails or resizes, which would break every frame."""
    h, w = multiple, 2 * multiple
    try:
        out = session.run(None, {input_name: np.zeros((1, IN_CHANNELS, h, w), np.float32)})[0]
    except Exception as e:  # as above: ONNX Runtime's error types vary
        raise vs.Error(f"dvd.Deblur: model {path} fails on a 1 x {IN_CHANNELS} x {h} x {w} input "
                       f"({first_line(e)}); {FIX}") from None
    if out.shape != (1, OUT_CHANNELS, h, w):
        got = " x ".join(map(str, out.shape))
        raise vs.Error(f"dvd.Deblur: model {path} turns a 1 x {IN_CHANNELS} x {h} x {w} input into "
                       f"{got}, expected 1 x {OUT_CHANNELS} x {h} x {w}: the output must be the size "
                       f"of the input; {FIX}")


def _check_tensor(path: Path, role: str, tensor, channels: int) -> None:
    shape = list(tensor.shape)
    expected = f"float32 N x {channels} x H x W with dynamic H and W"
    fixed_size = len(shape) == 4 and any(isinstance(d, int) for d in shape[2:])
    if (tensor.type != "tensor(float)" or len(shape) != 4 or shape[1] != channels
            or fixed_size):
        raise vs.Error(f"dvd.Deblur: model {path} has {role} {tensor.name!r} of type {tensor.type} "
                       f"and shape {shape}, expected {expected}; {FIX}")
