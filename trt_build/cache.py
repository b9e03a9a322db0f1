"""A folder of engines named by what they depend on: reuse a valid one, rebuild a stale one, never load a torn one.

Concurrent builders of the same engine take turns on a lock file; the second finds the first's engine
and loads it. Engines are code-like input: TensorRT executes what is in them, so only a folder the user
owns should hold them.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from .build import KEY_FIELDS, build_engine, cache_key, engine_fields, sidecar_path
from .flavour import Flavour, load
from .profile import Profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedEngine:
    """A verified engine: its bytes, as read once and checked against its sidecar."""

    path: Path
    data: bytes
    sidecar: dict
    built: bool  # True when this call built it


def engine_path(folder: Path, fields: dict) -> Path:
    """``<folder>/<model hash>-<precision>-<opt HxW>-<key>.engine``: readable, and unique per ``KEY_FIELDS``."""
    h, w = fields["profile"]["opt"]
    return Path(folder) / f"{fields['model_sha256'][:12]}-{fields['precision']}-{h}x{w}-{cache_key(fields)}.engine"


def lock_path(engine: Path) -> Path:
    """The lock file that builders of ``engine`` take turns on (``vs-dvd engines clear`` takes it too)."""
    return engine.with_name(engine.name + ".lock")


def intact(data: bytes, sidecar: dict) -> bool:
    """Whether ``data`` is the engine its sidecar describes (not truncated or altered since it was built)."""
    return len(data) == sidecar.get("engine_bytes") and hashlib.sha256(data).hexdigest() == sidecar.get("engine_sha256")


def stale_reason(path: Path, fields: dict) -> tuple[str | None, bytes, dict]:
    """Why the engine at ``path`` cannot be used for ``fields`` (None if it can), its bytes and sidecar."""
    try:
        sidecar = json.loads(sidecar_path(path).read_text())
        data = path.read_bytes()
    except FileNotFoundError:
        return "not built yet", b"", {}
    except (OSError, ValueError) as e:
        return f"unreadable ({e})", b"", {}
    if not isinstance(sidecar, dict):
        return f"unreadable (its sidecar holds {type(sidecar).__name__}, not a JSON object)", b"", {}
    for key in KEY_FIELDS:
        if sidecar.get(key) != fields[key]:
            return f"built for {key} {sidecar.get(key)!r}, need {fields[key]!r}", data, sidecar
    if not intact(data, sidecar):
        return f"engine file is truncated or altered ({len(data)} bytes, sidecar says " \
               f"{sidecar.get('engine_bytes')})", data, sidecar
    return None, data, sidecar


def covering_engine(onnx_path: Path, folder: Path, *, precision: str, shape: tuple[int, int], device: int = 0,
                    flavour: Flavour | None = None) -> CachedEngine | None:
    """A valid engine in ``folder`` for these arguments whose profile accepts ``shape`` (h, w), whatever else
    it accepts: the one optimised for ``shape`` if there is one, else the first. None when none is."""
    fields = engine_fields(onnx_path, precision=precision, profile=Profile.static(shape), device=device,
                           flavour=flavour or load())
    found = None
    for path in sorted(Path(folder).glob(f"{fields['model_sha256'][:12]}-{precision}-*.engine")):
        try:
            profile = Profile.from_dict(json.loads(sidecar_path(path).read_text())["profile"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: ensure_engine rebuilds it if it is ever the one asked for
        if not profile.accepts(shape):
            continue
        reason, data, sidecar = stale_reason(path, {**fields, "profile": profile.to_dict()})
        if reason is None:
            if profile.opt == shape:
                return CachedEngine(path, data, sidecar, built=False)
            found = found or CachedEngine(path, data, sidecar, built=False)
    return found


def ensure_engine(onnx_path: Path, folder: Path, *, precision: str, profile: Profile, device: int = 0,
                  workspace_mib: int | None = None, flavour: Flavour | None = None,
                  reject: str | None = None) -> CachedEngine:
    """The engine for these arguments from ``folder``, built first (with a log line saying why) when needed.

    ``reject`` is the ``engine_sha256`` of an engine the caller could not load: it is rebuilt unless
    another process has replaced it meanwhile.
    """
    flavour = flavour or load()
    fields = engine_fields(onnx_path, precision=precision, profile=profile, device=device, flavour=flavour)
    path = engine_path(folder, fields)

    def usable() -> tuple[str | None, bytes, dict]:
        reason, data, sidecar = stale_reason(path, fields)
        if reason is None and reject is not None and sidecar["engine_sha256"] == reject:
            reason = "TensorRT could not load it"
        return reason, data, sidecar

    reason, data, sidecar = usable()
    if reason is None:
        return CachedEngine(path, data, sidecar, built=False)
    Path(folder).mkdir(parents=True, exist_ok=True)
    with FileLock(lock_path(path)):  # the OS drops it if the process dies
        reason, data, sidecar = usable()  # another process may have built it meanwhile
        if reason is None:
            return CachedEngine(path, data, sidecar, built=False)
        log.warning("building %s %s engine %s for %s: %s", flavour.label, precision, path, profile, reason)
        build_engine(onnx_path, path, precision=precision, profile=profile, workspace_mib=workspace_mib,
                     device=device, flavour=flavour)
        reason, data, sidecar = stale_reason(path, fields)
    if reason is not None:
        raise RuntimeError(f"{path}: the engine just built fails its own check ({reason}); "
                           "is another program writing to this folder?")
    return CachedEngine(path, data, sidecar, built=True)
