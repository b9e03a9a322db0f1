"""ONNX -> serialized TensorRT engine plus the JSON sidecar that says what it was built from and for."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from . import gpu
from .files import atomic_write_bytes
from .flavour import Flavour, load
from .precision import PRECISIONS, lower_precision
from .profile import Profile

SIDECAR_FORMAT = 1
# What an engine depends on: a change in any of them means a different engine. The cache key hashes these.
KEY_FIELDS = ("model_sha256", "flavour", "version", "precision", "profile", "gpu", "targets")


class BuildError(RuntimeError):
    """TensorRT refused the model or the build; the message says what to change."""


def sidecar_path(engine_path: Path) -> Path:
    """``model.engine`` -> ``model.engine.json`` (``model.json`` is the ONNX model's own sidecar)."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def engine_fields(onnx_path: Path, *, precision: str, profile: Profile, device: int = 0,
                  compute_capabilities: list[str] | None = None, flavour: Flavour | None = None) -> dict:
    """The ``KEY_FIELDS`` an engine built with these arguments on this machine would have."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {PRECISIONS}")
    flavour = flavour or load()
    card = gpu.describe(device)
    return {
        "model_sha256": hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest(),
        "flavour": flavour.name,
        "version": flavour.version,
        "precision": precision,
        "profile": profile.to_dict(),
        "gpu": card,
        "targets": flavour.targets(card, compute_capabilities),
    }


def cache_key(fields: dict) -> str:
    """A short stable hash of the ``KEY_FIELDS`` in ``fields`` (a sidecar or ``engine_fields()``)."""
    text = json.dumps({k: fields[k] for k in KEY_FIELDS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_engine(onnx_path: Path, engine_path: Path, *, precision: str = "fp16", profile: Profile,
                 workspace_mib: int | None = None, device: int = 0,
                 compute_capabilities: list[str] | None = None, flavour: Flavour | None = None) -> dict:
    """Build, then write the engine and its sidecar atomically; returns the sidecar."""
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    flavour = flavour or load()
    fields = engine_fields(onnx_path, precision=precision, profile=profile, device=device,
                           compute_capabilities=compute_capabilities, flavour=flavour)
    trt = flavour.trt
    try:
        model = lower_precision(onnx.load(onnx_path), precision)
    except DecodeError as e:
        raise BuildError(f"{onnx_path}: not an ONNX model ({e}); give the .onnx file from training/export.py "
                         "or vs_dvd/data/dbn.onnx") from e
    builder = trt.Builder(flavour.logger)
    network = flavour.create_network(builder)
    parser = trt.OnnxParser(network, flavour.logger)
    if not parser.parse(model.SerializeToString(), str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BuildError(f"{onnx_path}: {flavour.label}'s ONNX parser refused the model: {errors}; "
                         "export it with training/export.py (opset 17, input N x 15 x H x W)")
    if network.num_inputs != 1 or network.num_outputs != 1:
        raise BuildError(f"{onnx_path}: expected one input and one output, found {network.num_inputs} "
                         f"and {network.num_outputs}; is this a DBN export?")
    source, result = network.get_input(0), network.get_output(0)
    channels = source.shape[1]
    config = builder.create_builder_config()
    if workspace_mib:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    flavour.apply_targets(config, fields["targets"])
    shapes = builder.create_optimization_profile()
    shapes.set_shape(source.name, *[(1, channels, *hw) for hw in (profile.min, profile.opt, profile.max)])
    config.add_optimization_profile(shapes)

    gpu.activate(device)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if serialized is None:
        raise BuildError(f"{onnx_path}: {flavour.label} could not build a {precision} engine for {profile} "
                         "(its log above says why); try a smaller --max-shape, a larger --workspace, or --fp32")
    data = bytes(serialized)
    sidecar = {
        "format": SIDECAR_FORMAT,
        **fields,
        "model": onnx_path.name,
        "input": source.name,
        "output": result.name,
        "engine_sha256": hashlib.sha256(data).hexdigest(),
        "engine_bytes": len(data),
        "build_seconds": round(seconds, 3),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    # Engine first: a crash in between leaves an engine whose sidecar is missing or stale, which readers reject.
    atomic_write_bytes(engine_path, data)
    atomic_write_bytes(sidecar_path(engine_path), (json.dumps(sidecar, indent=2) + "\n").encode())
    return sidecar
