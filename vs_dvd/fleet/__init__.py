"""``vs-dvd render SCRIPT.vpy OUT``: one VapourSynth script rendered in chunks by Ray workers on
many GPUs or machines, resumably, then joined without re-encoding.

Each chunk is ``vspipe -s START -e END SCRIPT.vpy`` piped into ffmpeg (lossless FFV1 by default,
or the codec of --encode; every chunk starts on a keyframe, as every encode does), written
atomically into OUT.chunks/ beside OUT with a manifest of finished chunks. A rerun renders only
the chunks missing or damaged; a chunk whose task fails or whose worker dies is retried.

Scene changes: when the script also sets output 1, the clip before Deblur (e.g.
``src.set_output(1)``), chunks end at the scene changes its frames mark (_SceneChangePrev /
_SceneChangeNext), whole scenes packed up to --chunk-frames; otherwise chunks are
--chunk-frames long.

GPUs: Ray gives each task --gpus-per-task GPUs and sets CUDA_VISIBLE_DEVICES to them, so the
script's device_id=0 (Deblur's default) is the task's own GPU.

On a cluster the script, every file it reads (sources, model) and OUT's folder must be at the
same path on every node (a shared file system), and vs-dvd[fleet] installed on every node.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

DEFAULT_CHUNK_FRAMES = 1000


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``vs-dvd render`` (the CLI's ``render`` subcommand, ``vs_dvd.cli``)."""
    p.add_argument("script", type=Path, metavar="SCRIPT.vpy", help="the VapourSynth script to render (output 0)")
    p.add_argument("out", type=Path, metavar="OUT", help="the video to write; its suffix picks the container "
                   "(.mkv holds FFV1 and any codec)")
    p.add_argument("--chunk-frames", type=int, default=DEFAULT_CHUNK_FRAMES,
                   help="most frames per chunk (default %(default)s); each chunk evaluates the script once")
    p.add_argument("-a", "--arg", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to the script as vspipe -a does (a global string); repeatable")
    p.add_argument("--encode", type=shlex.split, metavar="'FFMPEG OPTIONS'",
                   help="ffmpeg output options for each chunk instead of lossless FFV1, e.g. "
                        "'-c:v libx264 -crf 18 -pix_fmt yuv420p'")
    p.add_argument("--audio-from", type=Path, metavar="SOURCE",
                   help="copy the audio streams, chapters and container metadata of SOURCE (whole, so use it "
                        "when the script keeps the source's frames); without it OUT has no audio")
    p.add_argument("--workers", type=int, metavar="N", help="at most N chunks at once (default: as many as the "
                   "cluster's GPUs or cores allow)")
    p.add_argument("--ray", metavar="ADDRESS", dest="ray_address",
                   help="an existing Ray cluster (host:port, or 'auto' for the one this node belongs to); "
                        "default: start Ray on this machine")
    p.add_argument("--gpus-per-task", type=float, metavar="G",
                   help="GPUs each chunk asks Ray for (default 1 where the cluster has GPUs, else 0); "
                        "0.5 puts two chunks on one GPU")
    p.add_argument("--cpus-per-task", type=float, default=1, metavar="C",
                   help="CPU cores each chunk asks Ray for (default %(default)s)")
    p.add_argument("--keep-chunks", action="store_true",
                   help="keep OUT.chunks/ after OUT is written (a rerun then only joins them again)")
    p.add_argument("--restart", action="store_true", help="discard the chunks of an earlier render of OUT")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite OUT if it exists")


def run(a: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    """``vs-dvd render`` with the options ``configure`` parsed; the exit status."""
    if a.chunk_frames < 1:
        p.error(f"--chunk-frames {a.chunk_frames}: must be at least 1")
    if a.workers is not None and a.workers < 1:
        p.error(f"--workers {a.workers}: must be at least 1")
    if (a.gpus_per_task or 0) < 0 or a.cpus_per_task < 0:
        p.error("--gpus-per-task and --cpus-per-task must not be negative")
    bad = [arg for arg in a.arg if "=" not in arg or arg.startswith("=")]
    if bad:
        p.error(f"-a {bad[0]}: write KEY=VALUE")
    try:
        from .render import Options, RenderError, render
    except ImportError as e:
        if e.name != "ray":
            raise
        p.error("Ray is not installed; pip install 'vs-dvd[fleet]'")
    from .concat import ConcatError
    from .manifest import ManifestError
    from .worker import FFV1

    opts = Options(a.script, a.out, a.chunk_frames, dict(arg.split("=", 1) for arg in a.arg),
                   encode=a.encode or list(FFV1), audio_from=a.audio_from, workers=a.workers,
                   ray_address=a.ray_address, gpus_per_task=a.gpus_per_task, cpus_per_task=a.cpus_per_task,
                   keep_chunks=a.keep_chunks, restart=a.restart, overwrite=a.overwrite)
    try:
        render(opts, say=lambda line: print(f"vs-dvd render: {line}", file=sys.stderr, flush=True))
    except (RenderError, ConcatError, ManifestError) as e:
        print(f"vs-dvd render: error: {e}", file=sys.stderr)
        return 1
    return 0
