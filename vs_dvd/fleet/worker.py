"""One chunk: ``vspipe -s START -e END`` of the script piped into ffmpeg, written atomically.

Runs inside a Ray task, on whichever node Ray picks, so every path it is given must be the same
on every node. vspipe's and ffmpeg's messages go to a log file beside the chunk (the render
quotes it when the chunk fails), which outlives a worker that is killed.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import vapoursynth as vs

VSPIPE = Path(vs.__file__).with_name("vspipe")  # the binary that embeds this Python
FFV1 = ("-c:v", "ffv1", "-level", "3", "-g", "1", "-slicecrc", "1")  # lossless, every frame a keyframe
PR_SET_PDEATHSIG = 1


class ChunkError(RuntimeError):
    """vspipe or ffmpeg failed on a chunk; the log file holds their messages."""


@dataclass(frozen=True)
class Job:
    index: int
    start: int
    end: int
    script: str
    args: tuple[tuple[str, str], ...]  # vspipe -a key=value
    encode: tuple[str, ...]  # ffmpeg output options
    path: str  # the finished chunk
    log: str  # vspipe's and ffmpeg's messages, from the last attempt


@dataclass(frozen=True)
class Chunk:
    """A finished chunk, as the manifest records it."""
    index: int
    start: int
    end: int
    file: str  # name inside the chunk folder
    size: int
    sha256: str


def render(job: Job, report: Callable[[int], object] | None = None) -> Chunk:
    """Render ``job``'s frames to its chunk file; ``report(frames done)`` as ffmpeg advances."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ChunkError(f"ffmpeg is not installed on {os.uname().nodename}; install it on every node "
                         "(Debian/Ubuntu: apt-get install ffmpeg)")
    final = Path(job.path)
    temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    frames = job.end - job.start + 1
    vspipe_cmd = [str(VSPIPE), "-c", "mkv", "-o", "0", "-s", str(job.start), "-e", str(job.end),
                  *[a for key, value in job.args for a in ("-a", f"{key}={value}")], job.script, "-"]
    ffmpeg_cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-f", "matroska", "-i", "-",
                  "-map", "0:v", *job.encode, "-progress", "pipe:1", "-nostats", "-f", "matroska", str(temp)]
    done = 0
    try:
        with open(job.log, "wb") as log:
            vspipe = subprocess.Popen(vspipe_cmd, stdout=subprocess.PIPE, stderr=log,
                                      preexec_fn=_die_with_parent)
            encoder = subprocess.Popen(ffmpeg_cmd, stdin=vspipe.stdout, stdout=subprocess.PIPE,
                                       stderr=log, preexec_fn=_die_with_parent)
            vspipe.stdout.close()  # ffmpeg holds the pipe; vspipe stops if ffmpeg does
            if report:
                report(0)
            for line in encoder.stdout:
                if line.startswith(b"frame="):
                    done = int(line[6:])
                    if report:
                        report(done)
            encoder.wait()
            vspipe.wait()
        if vspipe.returncode or encoder.returncode:
            failed = "vspipe" if vspipe.returncode else "ffmpeg"
            code = vspipe.returncode or encoder.returncode
            raise ChunkError(f"{failed} exited with {code} on {os.uname().nodename}")
        if done != frames:
            raise ChunkError(f"ffmpeg wrote {done} frames, not {frames}")
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        digest = file_sha256(temp)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return Chunk(job.index, job.start, job.end, final.name, final.stat().st_size, digest)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read a megabyte at a time (chunks can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _die_with_parent() -> None:
    """In vspipe and ffmpeg: be killed with the worker, so a dead worker leaves no render behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
