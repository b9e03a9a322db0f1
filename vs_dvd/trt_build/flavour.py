"""The one place that knows NVIDIA TensorRT (module ``tensorrt``) from TensorRT-RTX (``tensorrt_rtx_bindings``).

Both are driven the same way: strongly typed networks (precision comes from the ONNX types, see
``precision.py``), one optimisation profile, ``execute_async_v3``. What differs is which GPUs an
engine can target and whether a GPU is needed to build one.
"""
from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from types import ModuleType

MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx_bindings"}
ENV_VAR = "TRT_BUILD_FLAVOUR"
INSTALL_HELP = (
    "install one of: NVIDIA TensorRT 10 or newer, for any recent NVIDIA GPU "
    "(`pip install tensorrt --extra-index-url https://pypi.nvidia.com`), or TensorRT-RTX, for GeForce RTX "
    "and RTX PRO GPUs (`pip install tensorrt-rtx-cu13-libs tensorrt-rtx-cu13-bindings`, "
    "or the -cu12- wheels for a CUDA 12 driver)"
)


class FlavourError(RuntimeError):
    """No usable TensorRT, or the one installed cannot target the requested GPU."""


@dataclass(frozen=True)
class Flavour:
    """An imported TensorRT flavour plus the process-wide logger TensorRT wants exactly one of."""

    name: str
    trt: ModuleType = field(repr=False)
    logger: object = field(repr=False, compare=False)

    @property
    def version(self) -> str:
        return self.trt.__version__

    @property
    def label(self) -> str:
        return f"{'TensorRT-RTX' if self.name == 'tensorrt-rtx' else 'TensorRT'} {self.version}"

    def create_network(self, builder: object) -> object:
        """A strongly typed network: fp16/bf16 come from the graph, never from builder flags."""
        return builder.create_network(1 << int(self.trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))

    def targets(self, gpu: dict | None, requested: list[str] | None) -> list[str]:
        """Compute capabilities to build for; ``[]`` means TensorRT-RTX's portable default (Ampere and newer)."""
        if self.name == "tensorrt":
            if requested:
                raise FlavourError(f"--compute-capability {','.join(requested)}: NVIDIA TensorRT builds only "
                                   "for the GPU it runs on; drop the option or build with TensorRT-RTX")
            if gpu is None:
                raise FlavourError("NVIDIA TensorRT builds on the GPU the engine is for, and no CUDA GPU was "
                                   "found; build on that machine, or use TensorRT-RTX, which builds ahead "
                                   f"of time without a GPU ({ENV_VAR}=tensorrt-rtx)")
            return [gpu["compute_capability"]]
        targets = requested or ([gpu["compute_capability"]] if gpu else [])
        supported = list(self._rtx_ccs())
        for cc in targets:
            if cc not in supported:
                where = f" ({gpu['name']})" if gpu and gpu["compute_capability"] == cc else ""
                raise FlavourError(f"compute capability {cc}{where}: {self.label} supports only "
                                   f"{', '.join(supported)}; for other GPUs install NVIDIA TensorRT "
                                   "(`pip install tensorrt --extra-index-url https://pypi.nvidia.com`)")
        return targets

    def apply_targets(self, config: object, targets: list[str]) -> None:
        """Tell a TensorRT-RTX builder config which GPUs to compile for (TensorRT needs nothing)."""
        if self.name == "tensorrt-rtx" and targets:
            config.num_compute_capabilities = len(targets)
            for i, cc in enumerate(targets):
                config.set_compute_capability(self._rtx_ccs()[cc], i)

    def _rtx_ccs(self) -> dict[str, object]:
        """``"8.6" -> ComputeCapability.SM86`` for each GPU generation this TensorRT-RTX compiles for."""
        return {name[2:-1] + "." + name[-1]: cc for name, cc in self.trt.ComputeCapability.__members__.items()
                if name.startswith("SM") and name[2:].isdigit()}


@functools.cache
def _load(name: str) -> Flavour:
    trt = importlib.import_module(MODULES[name])
    if name == "tensorrt" and int(trt.__version__.split(".")[0]) < 10:
        raise FlavourError(f"found NVIDIA TensorRT {trt.__version__}, but strongly typed networks and "
                           "execute_async_v3 need 10 or newer: `pip install -U tensorrt "
                           "--extra-index-url https://pypi.nvidia.com`")
    return Flavour(name, trt, trt.Logger(trt.Logger.WARNING))


def load(name: str | None = None) -> Flavour:
    """The flavour ``name``, else ``$TRT_BUILD_FLAVOUR``, else NVIDIA TensorRT if installed, else TensorRT-RTX."""
    name = name or os.environ.get(ENV_VAR) or None
    if name is not None and name not in MODULES:
        raise FlavourError(f"TensorRT flavour {name!r} is not one of {sorted(MODULES)} (check {ENV_VAR})")
    missing = []
    for candidate in [name] if name else list(MODULES):
        try:
            return _load(candidate)
        except ImportError as e:
            missing.append(f"{MODULES[candidate]} ({e})")
    raise FlavourError(f"no TensorRT found (could not import {'; '.join(missing)}); {INSTALL_HELP}")


def cannot_build_for(device: int) -> str | None:
    """Why the installed flavour cannot build for CUDA GPU ``device`` (none installed, Hopper on RTX), else None."""
    from . import gpu

    try:
        load().targets(gpu.describe(device), None)
    except FlavourError as e:
        return str(e)
    return None
