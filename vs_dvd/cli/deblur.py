"""Deblur a video file without writing a .vpy: IN through core.dvd.Deblur into ffmpeg, with IN's audio,
chapters and container metadata copied into OUT.

IN is read by bestsource when it is installed (pip install vapoursynth-bestsource), else by PyAV.
OUT is written to a temporary file beside it and renamed when complete, so an interrupted render
never leaves a partial OUT. The options after --source are Deblur's own arguments (see the README).
"""
from __future__ import annotations

import argparse
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

DEFAULT_ENCODE = "-c:v libx264 -crf 18 -preset medium"
RANGE = {0: "tv", 1: "pc"}  # VapourSynth _Range -> ffmpeg -color_range


def configure(p: argparse.ArgumentParser) -> None:
    from .source import READERS

    p.add_argument("input", type=Path, metavar="IN", help="the video to deblur")
    p.add_argument("output", type=Path, metavar="OUT", help="the video to write; its suffix picks the container")
    p.add_argument("--encode", type=shlex.split, default=shlex.split(DEFAULT_ENCODE), metavar="'FFMPEG OPTIONS'",
                   help=f"ffmpeg output options (default '{DEFAULT_ENCODE}'; audio is copied: add e.g. "
                        "'-c:a aac' when OUT's container cannot hold IN's audio codec)")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--source", choices=("auto", *READERS), default="auto",
                   help="how to read IN (default: bestsource if installed, else PyAV)")
    deblur_arguments(p.add_argument_group("Deblur arguments"))


def deblur_arguments(group) -> None:
    """An option per argument of ``vs_dvd.deblur`` after ``clip``: name, default, type and help from its
    signature and docstring, so the command line follows the function."""
    import vs_dvd

    docs, choices = argument_docs(vs_dvd.deblur.__doc__), {"backend": vs_dvd.BACKEND_CHOICES}
    for name, param in list(inspect.signature(vs_dvd.deblur).parameters.items())[1:]:
        flag, kind = "--" + name.replace("_", "-"), str(param.annotation)
        options = {"default": param.default, "help": docs.get(name, ""), "metavar": name.upper()}
        if isinstance(param.default, bool):
            options.update(action=argparse.BooleanOptionalAction)
            del options["metavar"]
        elif "Sequence[int]" in kind:
            options.update(type=_int_or_pair, metavar="N|W,H")
        elif kind.startswith("int"):
            options.update(type=int, metavar="N")
        if name in choices:
            options.update(choices=choices[name], metavar=None)
        group.add_argument(flag, dest=f"deblur_{name}", **options)


def argument_docs(doc: str) -> dict[str, str]:
    """``{argument: its description}`` from a Google-style docstring's ``Args:`` section."""
    section = doc.split("Args:", 1)[1] if "Args:" in doc else ""
    found: dict[str, str] = {}
    for name, text in re.findall(r"^\s{8}(\w+): (.*?)(?=^\s{8}\w+: |\Z)", section, re.M | re.S):
        found[name] = " ".join(text.split()).replace("``", "").replace("%", "%%")
    return found


def _int_or_pair(text: str) -> int | list[int]:
    parts = text.replace("x", ",").split(",")
    if not all(part.strip().isdigit() for part in parts) or len(parts) > 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N or WIDTH,HEIGHT, e.g. 512 or 640,360")
    values = [int(part) for part in parts]
    return values[0] if len(values) == 1 else values


def run(a: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    import vapoursynth as vs

    from .source import SourceError, open_clip

    source, out = a.input, a.output
    if not source.is_file():
        p.error(f"IN {source}: no such file")
    if out.resolve() == source.resolve() or (out.exists() and os.path.samefile(out, source)):
        p.error(f"OUT {out} is IN: write the deblurred video to another file")
    if out.exists() and not a.overwrite:
        p.error(f"OUT {out} exists; pass -y to overwrite it, or name another file")
    if not out.parent.is_dir():
        p.error(f"OUT {out}: the folder {out.parent} does not exist")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        p.error("ffmpeg is not installed; install it (Debian/Ubuntu: apt-get install ffmpeg)")
    arguments = {key[len("deblur_"):]: value for key, value in vars(a).items()
                 if key.startswith("deblur_") and value is not None}
    try:
        clip = vs.core.dvd.Deblur(open_clip(source, a.source), **arguments)
    except (SourceError, vs.Error) as e:
        print(f"vs-dvd deblur: error: {e}", file=sys.stderr)
        return 1
    if clip.format.color_family == vs.RGB:  # y4m holds YUV and GRAY only
        clip = clip.resize.Bicubic(format=clip.format.replace(color_family=vs.YUV, subsampling_w=0,
                                                               subsampling_h=0), matrix=1)
    try:
        encode(clip, source, out, ffmpeg, a.encode)
    except (RuntimeError, vs.Error) as e:
        print(f"vs-dvd deblur: error: {e}", file=sys.stderr)
        return 1
    print(f"vs-dvd deblur: wrote {out}: {clip.num_frames} frames", file=sys.stderr)
    return 0


def colour_tags(clip) -> list[str]:
    """ffmpeg options tagging OUT with the colour properties of the clip's first frame (y4m carries none)."""
    props = clip.get_frame(0).props
    tags = []
    for key, option in (("_Matrix", "-colorspace"), ("_Primaries", "-color_primaries"), ("_Transfer", "-color_trc")):
        if props.get(key) not in (None, 2):  # VapourSynth's codes are ffmpeg's (ITU-T H.273)
            tags += [option, str(props[key])]
    if props.get("_Range") in RANGE:
        tags += ["-color_range", RANGE[props["_Range"]]]
    return tags


def encode(clip, source: Path, out: Path, ffmpeg: str, options: list[str]) -> None:
    """Frames of ``clip`` as y4m into ffmpeg, with ``source``'s audio, chapters and metadata, into ``out``
    through a temporary file beside it."""
    from ..fleet.concat import streams_from

    temp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.tmp{out.suffix}")  # the suffix picks the container
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-f", "yuv4mpegpipe", "-i", "-",
           "-i", str(source), "-map", "0:v", *streams_from(1), "-c:a", "copy", *colour_tags(clip),
           *options, str(temp)]
    bar = _progress(clip.num_frames)
    try:
        with tempfile.TemporaryFile() as messages:
            encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=messages, bufsize=0)
            try:
                clip.output(encoder.stdin, y4m=True, progress_update=bar)
            except BrokenPipeError:
                pass  # ffmpeg stopped: its messages say why
            except BaseException:  # a frame failed, or Ctrl-C: no OUT
                encoder.kill()
                raise
            finally:
                encoder.stdin.close()
                encoder.wait()
            if encoder.returncode:
                messages.seek(0)
                raise RuntimeError(f"ffmpeg failed (exit {encoder.returncode}) writing {out}: "
                                   f"{messages.read().decode(errors='replace').strip()[-2000:]}")
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
        bar(None, None)


def _progress(total: int):
    """A callback ``(done, total)`` drawing a tqdm bar (none without tqdm); ``(None, None)`` closes it."""
    try:
        from tqdm import tqdm
    except ImportError:
        return lambda done, count: None
    bar = tqdm(total=total, unit="frame", desc="deblur", dynamic_ncols=True)

    def update(done, count) -> None:
        if done is None:
            bar.close()
        else:
            bar.n = done
            bar.refresh()

    return update
