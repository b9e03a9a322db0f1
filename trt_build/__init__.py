"""ONNX DBN -> TensorRT or TensorRT-RTX engine plus JSON sidecar, and the cache the plugin keeps them in.

``python -m vs_dvd.trt_build MODEL.onnx`` builds one (see docs/trt.md); from Python::

    sidecar = build_engine("model.onnx", "model.engine", precision="fp16", profile=Profile.static((1088, 1920)))
    cached = ensure_engine("model.onnx", folder, precision="fp16", profile=Profile.static((1088, 1920)))

Running an engine needs a GPU and PyTorch with CUDA: ``vs_dvd.trt_build.runner``, imported on its own.
"""
from __future__ import annotations

from .build import KEY_FIELDS, BuildError, build_engine, cache_key, engine_fields, sidecar_path
from .cache import CachedEngine, covering_engine, ensure_engine
from .flavour import FlavourError, cannot_build_for
from .flavour import load as load_flavour
from .precision import PRECISIONS
from .profile import Profile, parse_shape

__all__ = [
    "KEY_FIELDS", "PRECISIONS", "BuildError", "CachedEngine", "FlavourError", "Profile", "build_engine",
    "cache_key", "cannot_build_for", "covering_engine", "engine_fields", "ensure_engine", "load_flavour",
    "parse_shape", "sidecar_path",
]
