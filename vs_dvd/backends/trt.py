"""TensorRT backend: an engine that trt_build builds for this model, GPU, precision and tile size.

Engines are cached in ``$XDG_CACHE_HOME/vs-dvd/engines`` (default ``~/.cache/vs-dvd/engines``)
under names that hash everything they depend on (see ``vs_dvd.trt_build.cache``), so the first run
builds and later runs load; a stale, truncated or foreign engine is rebuilt with a log line.
An engine is code-like input: TensorRT runs what it holds, so the cache must be the user's own.
"""
from __future__ import annotations

import functools
import logging
import os
import queue
import tempfile
from collections.abc import Sequence
from pathlib import Path

import vapoursynth as vs


def runtime_version() -> str | None:
    """``"TensorRT-RTX 1.7.1.116"`` or ``"TensorRT 10.x"``: the flavour trt_build would use, if any."""
    try:
        from vs_dvd.trt_build import FlavourError, load_flavour
    except ImportError:  # the trt extra (onnx) is not installed
        return None
    try:
        return load_flavour().label
    except FlavourError:
        return None


def cache_folder() -> Path:
    """The engine cache, or a private temporary folder (with a warning) when it cannot be written."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vs-dvd" / "engines"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # writable?
            pass
        return folder
    except OSError as e:
        fallback = _temporary_folder()
        _warn(f"the TensorRT engine cache {folder} cannot be written ({e.strerror or e}); using {fallback} "
              "instead, so engines are rebuilt in every new process; set XDG_CACHE_HOME to a writable folder")
        return fallback


@functools.cache
def _temporary_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="vs-dvd-engines-"))  # private (0700): engines are code-like


def _warn(text: str) -> None:
    vs.core.log_message(vs.MESSAGE_TYPE_WARNING, f"dvd.Deblur: {text}")


class _ToVapourSynth(logging.Handler):
    """trt_build's log lines ("building ... engine ...: why") as VapourSynth warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        _warn(record.getMessage())


class TrtBackend:
    """One deserialized engine; ``num_streams`` execution contexts, so as many frames are in flight. The
    engine reads and writes torch tensors on the device directly (``vs_dvd.trt_build.runner``), on the stream
    ``vs_dvd.gpu.path`` makes current."""

    name = "trt"

    def __init__(self, engine, num_streams: int):
        import torch

        self._torch = torch
        self.device = engine.device
        self.num_streams = num_streams
        self._runners: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(num_streams):
            self._runners.put(engine.runner())

    def infer(self, frames: Sequence):
        """Five resident RGB tensors (or tiles of them), oldest first -> the sharp centre frame, float32, on the device."""
        batch = self._torch.cat(list(frames))[None]
        runner = self._runners.get()  # blocks while all num_streams contexts are busy
        try:
            return runner(batch)[0]
        finally:
            self._runners.put(runner)


def engine_for(model, *, fp16: bool, shape: tuple[int, int], device_id: int, reject: str | None = None):
    """The cached ``trt_build.CachedEngine`` for this model, precision, tile shape and GPU; built when needed."""
    from vs_dvd.trt_build import Profile, ensure_engine

    log = logging.getLogger("vs_dvd.trt_build")
    if not any(isinstance(h, _ToVapourSynth) for h in log.handlers):
        log.addHandler(_ToVapourSynth())
    return ensure_engine(model.path, cache_folder(), precision="fp16" if fp16 else "fp32",
                         profile=Profile.static(shape), device=device_id, reject=reject)


def create(model, *, device_id: int, fp16: bool, num_streams: int, num_threads: int,
           shape: tuple[int, int]) -> TrtBackend:
    """Load (building first if needed) the engine for ``shape``; ``num_threads`` does not apply on the GPU."""
    from vs_dvd.trt_build import BuildError, FlavourError, load_flavour
    from vs_dvd.trt_build.runner import Engine, EngineLoadError

    options = dict(fp16=fp16, shape=shape, device_id=device_id)
    try:
        flavour = load_flavour()
        cached = engine_for(model, **options)
        try:
            engine = Engine(flavour, cached.data, device_id)
        except EngineLoadError:  # e.g. a driver update since it was built: rebuild once
            if cached.built:
                raise
            cached = engine_for(model, reject=cached.sidecar["engine_sha256"], **options)
            engine = Engine(flavour, cached.data, device_id)
    except (FlavourError, BuildError, EngineLoadError) as e:
        raise vs.Error(f"dvd.Deblur: backend='trt' with model {model.path}: {e}; "
                       "or use backend='cuda' or 'cpu'") from None
    return TrtBackend(engine, num_streams)
