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
    if len(data) != sidecar.get("engine_bytes") or hashlib.sha256(data).hexdigest() != sidecar.get("engine_sha256"):
        return f"engine file is truncated or altered ({len(data)} bytes, sidecar says " \
               f"{sidecar.get('engine_bytes')})", data, sidecar
    return None, data, sidecar


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
    with FileLock(path.with_name(path.name + ".lock")):  # the OS drops it if the process dies
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
