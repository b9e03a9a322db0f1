"""A stream of (blurry, sharp) frame pairs -> dataset clips, split at breaks and every ``chunk`` frames.

Shared by the synthesis modules so that all of them resume the same way: a clip already on disk
is counted but not recomputed (``make`` is not called for its items), and a source whose clips are
all on disk is not read again (``.<name>.done.json`` in the dataset lists them).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from training.data.dataset import has_clip, write_clip, write_manifest
from vs_dvd.basics import MANIFEST

Item = TypeVar("Item")


def write_clips(items: Iterable[Item | None], make: Callable[[Item], tuple],
                out: Path, name: str, meta: dict, chunk: int = 0) -> int:
    """Write clips ``name-0000``, ``name-0001``, ... of ``chunk`` frames (0: no limit); returns the breaks seen.

    ``make`` returns (blurry, sharp) or (blurry, sharp, parameters); the clip's record lists the parameters
    under ``shakes``. ``None`` in ``items`` is a break (an unreadable file): the current clip ends there.
    """
    record = Path(out) / f".{name}.done.json"  # dot-prefixed, so never taken for a clip
    if record.is_file():
        done = json.loads(record.read_text())
        if all(has_clip(out, clip) for clip in done["clips"]):
            return done["breaks"]
    breaks, part, count = 0, 0, 0  # count: frames of the current clip, computed or already on disk
    pending: list[tuple] = []

    def flush() -> None:
        nonlocal part, count, pending
        if pending:
            blurry, sharp = (np.stack(frames) for frames in list(zip(*pending))[:2])
            shakes = [p[2] for p in pending if len(p) > 2]  # a make that records each frame's shake
            write_clip(out, f"{name}-{part:04d}", blurry, sharp, {**meta, **({"shakes": shakes} if shakes else {})})
        part, count, pending = part + 1, 0, []

    for item in items:
        if item is None:
            breaks += 1
            if count:
                flush()
            continue
        if not has_clip(out, f"{name}-{part:04d}"):
            pending.append(make(item))
        count += 1
        if count == chunk:
            flush()
    if count:
        flush()
    record.parent.mkdir(parents=True, exist_ok=True)  # a source without clips still finished
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps({"clips": [f"{name}-{i:04d}" for i in range(part)], "breaks": breaks}))
    os.replace(tmp, record)
    return breaks


def clip_names(sources: list[Path]) -> list[str]:
    """Clip name stem per source: its file or folder name, which must be unique in one run."""
    names = [Path(s).stem if Path(s).is_file() else Path(s).resolve().name for s in sources]
    for n in set(names):
        clash = [str(s) for s, m in zip(sources, names) if m == n]
        if len(clash) > 1:
            raise ValueError(f"sources {', '.join(clash)} would all write clips named {n!r}: "
                             "rename them or synthesise them into separate dataset folders")
    return names


def write_sources(sources: list[Path], out: Path, kind: str, settings: dict,
                  stream: Callable[[Path, str], tuple[Iterable, Callable]], chunk: int, split: str,
                  max_side: int | None, licence: str) -> dict:
    """Write the clips of every source (``stream(source, name)`` gives ``write_clips``' items and
    make) and the manifest; returns the manifest's info. Runs into one folder (train footage, then
    val footage) add up: the manifest keeps every run's sources."""
    names = clip_names(sources)
    skipped = 0
    for source, name in tqdm(list(zip(sources, names)), desc=kind, unit="source"):
        meta = {"kind": kind, "source": str(source), "split": split, **settings}
        skipped += write_clips(*stream(source, name), out, name, meta, chunk)
    manifest = Path(out) / MANIFEST
    known = json.loads(manifest.read_text()).get("sources", []) if manifest.is_file() else []
    now = [{"name": n, "path": str(s), "split": split, "licence": licence} for s, n in zip(sources, names)]
    info = {"kind": kind, **settings, "chunk": chunk, "max_side": max_side, "skipped_files": skipped,
            "sources": list({s["name"]: s for s in [*known, *now]}.values())}
    write_manifest(out, info)
    return info
