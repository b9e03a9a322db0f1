"""The resumable record of a render: ``OUT.chunks/manifest.json`` beside OUT.

It holds what the chunks depend on (the script's SHA-256, its arguments, the encoder options,
the chunk length), the plan (frame count and chunk ranges, so a rerun needs no probe) and every
finished chunk with its size and SHA-256. Only the driver writes it, atomically after each chunk,
so a render killed at any moment leaves a manifest that names complete chunks only.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .worker import Chunk, file_sha256

FORMAT = 1
NAME = "manifest.json"
SUFFIX = ".chunks"


class ManifestError(RuntimeError):
    """The manifest cannot be used for this render; the message says what to do."""


def folder_for(out: Path) -> Path:
    """Where the chunks of ``out`` live: beside it, so on the same (shared) file system."""
    return out.with_name(out.name + SUFFIX)


def settings(script: Path, args: dict[str, str], encode: list[str], chunk_frames: int) -> dict:
    """Everything a chunk's content depends on."""
    return {"script": str(script), "script_sha256": hashlib.sha256(script.read_bytes()).hexdigest(),
            "args": dict(sorted(args.items())), "encode": list(encode), "chunk_frames": chunk_frames}


@dataclass
class Manifest:
    folder: Path
    settings: dict
    frames: int
    ranges: list[tuple[int, int]]
    done: dict[int, Chunk] = field(default_factory=dict)

    def chunk_path(self, index: int) -> Path:
        start, end = self.ranges[index]
        return self.folder / f"{index:05d}_{start:07d}-{end:07d}.mkv"

    def log_path(self, index: int) -> Path:
        return self.chunk_path(index).with_suffix(".log")

    def record(self, chunk: Chunk) -> None:
        self.done[chunk.index] = chunk
        self.save()

    def save(self) -> None:
        data = {"format": FORMAT, "settings": self.settings, "frames": self.frames,
                "ranges": self.ranges, "done": [asdict(self.done[i]) for i in sorted(self.done)]}
        temp = self.folder / f".{NAME}.tmp"
        with open(temp, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, self.folder / NAME)

    def damaged(self) -> dict[int, str]:
        """Finished chunks whose file is missing or differs from the record, with why; they are
        dropped from ``done`` so that they are rendered again."""
        problems = {}
        for index, chunk in sorted(self.done.items()):
            path = self.folder / chunk.file
            if not path.is_file():
                problems[index] = "its file is missing"
            elif path.stat().st_size != chunk.size:
                problems[index] = f"its file has {path.stat().st_size} bytes, not {chunk.size}"
            elif file_sha256(path) != chunk.sha256:
                problems[index] = "its file's SHA-256 differs from the manifest's"
        for index in problems:
            del self.done[index]
        return problems

    @classmethod
    def load(cls, folder: Path) -> Manifest | None:
        """The manifest in ``folder``, or None when there is none yet."""
        path = folder / NAME
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, not {FORMAT}")
            done = {c["index"]: Chunk(**c) for c in data["done"]}
            return cls(folder, data["settings"], data["frames"], [tuple(r) for r in data["ranges"]], done)
        except (ValueError, KeyError, TypeError) as e:
            raise ManifestError(f"{path} is not a manifest this version can read ({e}); pass --restart "
                                "to render from scratch") from None


def differences(old: dict, new: dict) -> list[str]:
    """The names of the settings that differ between two renders."""
    return [key for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]
