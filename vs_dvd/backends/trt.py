"""TensorRT backend: an engine that trt_build builds for this model, GPU and precision, or one the user built.

Engines are cached in ``$XDG_CACHE_HOME/vs-dvd/engines`` (default ``~/.cache/vs-dvd/engines``, or Deblur's
``engine_folder``) under names that hash everything they depend on (see ``vs_dvd.trt_build.cache``), so the
first run builds and later runs load; a stale, truncated or foreign engine is rebuilt with a log line. A
cached engine accepts a range of frame sizes (``profile_for``), so a new resolution seldom means a new build.
An engine is code-like input: TensorRT runs what it holds, so the cache must be the user's own.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import queue
import tempfile
from collections.abc import Sequence
from pathlib import Path

import vapoursynth as vs

COVER = (1088, 1920)  # (h, w): a cached engine serves every frame size up to this one (1080p padded) ...
FLOOR = (64, 64)  # ... and down to this one, besides the size it was built for


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


def default_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vs-dvd" / "engines"


def cache_folder(chosen: str | os.PathLike | None = None) -> Path:
    """The engine cache: ``chosen`` (Deblur's engine_folder), created if missing, or a vs.Error when it cannot
    be written; by default the user's cache, or a private temporary folder (with a warning) when that cannot."""
    if chosen is not None:
        folder = Path(chosen).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):  # writable?
                pass
        except OSError as e:
            raise vs.Error(f"dvd.Deblur: engine_folder={str(chosen)!r} cannot be written ({e.strerror or e}); pass a "
                           f"folder you can write to, or leave engine_folder out for {default_folder()}") from None
        return folder
    folder = default_folder()
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


def profile_for(shape: tuple[int, int], budget: int | None = None):
    """The profile the cache builds for tiles of ``shape`` (h, w): optimised for it, accepting ``FLOOR`` to
    ``COVER`` besides, so later clips of other sizes reuse it; only up to ``shape`` where an inference at
    ``COVER`` would take more than ``budget`` pixels (an execution context holds memory for the largest)."""
    from vs_dvd.trt_build import Profile

    low = tuple(min(s, f) for s, f in zip(shape, FLOOR))
    high = tuple(max(s, c) for s, c in zip(shape, COVER))
    if budget is not None and high[0] * high[1] > budget:
        high = shape
    return Profile(low, shape, high)


def _log_builds() -> None:
    log = logging.getLogger("vs_dvd.trt_build")
    if not any(isinstance(h, _ToVapourSynth) for h in log.handlers):
        log.addHandler(_ToVapourSynth())


def engine_for(model, *, fp16: bool, shape: tuple[int, int], device_id: int,
               folder: str | os.PathLike | None = None, budget: int | None = None):
    """A ``trt_build.CachedEngine`` for this model, precision and GPU that runs tiles of ``shape``: one in the
    cache (``folder``, see ``cache_folder``) whose profile accepts it, else a new one (``profile_for``)."""
    from vs_dvd.trt_build import covering_engine, ensure_engine

    _log_builds()
    folder, precision = cache_folder(folder), "fp16" if fp16 else "fp32"
    return (covering_engine(model.path, folder, precision=precision, shape=shape, device=device_id)
            or ensure_engine(model.path, folder, precision=precision, profile=profile_for(shape, budget),
                             device=device_id))


def rebuilt(model, cached, device_id: int):
    """``cached`` built again because TensorRT could not load it (a driver update, say), unless another process
    has replaced it meanwhile."""
    from vs_dvd.trt_build import Profile, ensure_engine

    _log_builds()
    return ensure_engine(model.path, cached.path.parent, precision=cached.sidecar["precision"],
                         profile=Profile.from_dict(cached.sidecar["profile"]), device=device_id,
                         reject=cached.sidecar["engine_sha256"])


def user_engine(path: str | os.PathLike, model):
    """Deblur's ``engine=``: a file ``python -m vs_dvd.trt_build MODEL -o FILE`` wrote, checked against its
    sidecar, the model and the installed TensorRT; a vs.Error naming the fix otherwise. Never rebuilt: it is
    the user's file."""
    from vs_dvd.trt_build import CachedEngine, FlavourError, Profile, load_flavour, sidecar_path
    from vs_dvd.trt_build.cache import intact

    path = Path(path).expanduser()
    rebuild = f"build it with python -m vs_dvd.trt_build {model.path} -o {path}"
    try:
        data = path.read_bytes()
        sidecar = json.loads(sidecar_path(path).read_text())
    except FileNotFoundError as e:
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r}: {e.filename} does not exist; {rebuild}") from None
    except (OSError, ValueError) as e:
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r} or its sidecar cannot be read ({e}); {rebuild}") from None
    try:
        Profile.from_dict(sidecar["profile"])
    except (KeyError, TypeError, ValueError):
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r}: {sidecar_path(path)} is not an engine sidecar; "
                       f"{rebuild}") from None
    if not intact(data, sidecar):
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r} is truncated or altered (it does not match its sidecar); "
                       f"{rebuild}")
    if sidecar.get("model_sha256") != model.sha256:
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r} was built from the model with sha256 "
                       f"{str(sidecar.get('model_sha256'))[:12]}, not from {model.path} ({model.sha256[:12]}); pass "
                       f"model= the ONNX it was built from, or {rebuild}")
    try:
        flavour = load_flavour()
    except FlavourError as e:
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r}: {e}") from None
    if (sidecar.get("flavour"), sidecar.get("version")) != (flavour.name, flavour.version):
        raise vs.Error(f"dvd.Deblur: engine={str(path)!r} was built by {sidecar.get('flavour')} "
                       f"{sidecar.get('version')}, and {flavour.label} is installed, which cannot load it; {rebuild}")
    return CachedEngine(path, data, sidecar, built=False)


def create(model, *, device_id: int, fp16: bool, num_streams: int, num_threads: int, shape: tuple[int, int],
           engine_folder: str | os.PathLike | None = None, engine=None, budget: int | None = None) -> TrtBackend:
    """Load ``engine`` (``user_engine``'s) or a cached engine that runs tiles of ``shape`` (built first if
    needed, for at most ``budget`` pixels); ``num_threads`` does not apply on the GPU."""
    from vs_dvd.trt_build import BuildError, FlavourError, load_flavour
    from vs_dvd.trt_build.runner import Engine, EngineLoadError

    what = f"engine={str(engine.path)!r}" if engine else f"model {model.path}"
    try:
        flavour = load_flavour()
        cached = engine or engine_for(model, fp16=fp16, shape=shape, device_id=device_id, folder=engine_folder,
                                      budget=budget)
        try:
            loaded = Engine(flavour, cached.data, device_id)
        except EngineLoadError:
            if cached.built or engine:  # a fresh build, or the user's own file: nothing to rebuild
                raise
            loaded = Engine(flavour, rebuilt(model, cached, device_id).data, device_id)
    except (FlavourError, BuildError, EngineLoadError) as e:
        fix = (f"rebuild it for this GPU with python -m vs_dvd.trt_build {model.path} -o {engine.path}" if engine
               else "or use backend='cuda' or 'cpu'")
        raise vs.Error(f"dvd.Deblur: backend='trt' with {what}: {e}; {fix}") from None
    return TrtBackend(loaded, num_streams)
