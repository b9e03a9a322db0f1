"""The chunks joined into OUT without re-encoding (ffmpeg's concat demuxer, ``-c copy``), with the
audio, chapters and container metadata of ``--audio-from`` when given."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class ConcatError(RuntimeError):
    """ffmpeg could not join the chunks; the message carries its own."""


def streams_from(index: int) -> list[str]:
    """ffmpeg options taking input ``index``'s audio streams (if any), chapters and container metadata."""
    return ["-map", f"{index}:a?", "-map_metadata", str(index), "-map_chapters", str(index)]


def concat(chunks: list[Path], out: Path, audio_from: Path | None = None) -> None:
    """Write ``out`` (atomically) from ``chunks`` in order, plus ``audio_from``'s audio streams."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ConcatError("ffmpeg is not installed; install it (Debian/Ubuntu: apt-get install ffmpeg)")
    listing = chunks[0].parent / "concat.txt"
    listing.write_text("ffconcat version 1.0\n" + "".join(
        "file '" + str(c.resolve()).replace("'", "'\\''") + "'\n" for c in chunks))
    temp = out.with_name(f".{out.stem}.tmp{out.suffix}")  # the suffix tells ffmpeg the container
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", "-f", "concat", "-safe", "0",
           "-i", str(listing)]
    if audio_from:
        cmd += ["-i", str(audio_from), "-map", "0:v", *streams_from(1)]
    else:
        cmd += ["-map", "0:v", "-map_metadata", "-1"]
    result = subprocess.run([*cmd, "-c", "copy", str(temp)], capture_output=True, text=True)
    if result.returncode:
        temp.unlink(missing_ok=True)
        raise ConcatError(f"ffmpeg could not join {len(chunks)} chunks into {out}: "
                          f"{result.stderr.strip()[-2000:]}")
    os.replace(temp, out)
    listing.unlink()
