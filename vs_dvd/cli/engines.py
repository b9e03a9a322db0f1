"""The TensorRT engine cache that backend="trt" builds into and loads from: list it, clear it, or build
engines ahead of time for given frame sizes (so the first render does not wait for a build).

The cache is $XDG_CACHE_HOME/vs-dvd/engines (default ~/.cache/vs-dvd/engines), or --folder as Deblur's
engine_folder. Engines are built by the same call Deblur(backend="trt") makes, so a render at that size,
precision and GPU finds them (and at the other sizes each one accepts).
Engines are code-like input: keep only engines you built in the cache.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

TRT_EXTRA = "pip install 'vs-dvd[trt]'"


def configure(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--folder", metavar="DIR", help="the cache, as Deblur's engine_folder (default: the user cache)")
    actions.add_parser("list", parents=[where], help="the cached engines: size, date, and the model, precision, "
                                                     "frame sizes, GPU and TensorRT they were built for")
    actions.add_parser("clear", parents=[where], help="delete every cached engine (engines being built are left alone)")
    build = actions.add_parser("build", parents=[where],
                               help="build the engines Deblur(backend='trt') would use for these sizes")
    build.add_argument("sizes", nargs="+", type=_frame_size, metavar="WIDTHxHEIGHT",
                       help="frame sizes, e.g. 1920x1080 (padded to multiples of 8, as Deblur pads)")
    build.add_argument("--model", metavar="ONNX", help="the model (default: the bundled one)")
    build.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=True,
                       help="half precision, as Deblur's fp16 (default: on)")
    build.add_argument("--device-id", type=int, default=0, metavar="N", help="the GPU, as Deblur's device_id")


def run(a: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    return {"list": list_engines, "clear": clear, "build": build}[a.action](a)


def _frame_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1080, 1920): height first, as the backends count."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() and int(part) >= 8 for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT in pixels, at least 8x8, e.g. 1920x1080")
    return int(parts[1]), int(parts[0])


def _folder(a: argparse.Namespace) -> Path:
    from ..backends.trt import cache_folder

    return cache_folder(a.folder)


def list_engines(a: argparse.Namespace) -> int:
    folder = _folder(a)
    engines = sorted(folder.glob("*.engine"))
    print(f"{folder}: {len(engines)} engine(s)")
    for path in engines:
        stat = path.stat()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stat.st_mtime))
        print(f"  {path.name}  {stat.st_size / 2**20:.1f} MiB  {when}  {_built_for(path)}")
    return 0


def _built_for(path: Path) -> str:
    """What an engine was built for, from its sidecar (``vs_dvd.trt_build.build_engine`` writes it)."""
    from vs_dvd.trt_build import Profile, sidecar_path

    try:
        side = json.loads(sidecar_path(path).read_text())
        sizes = Profile.from_dict(side["profile"])
        gpu = side["gpu"]["name"] if side.get("gpu") else "any GPU of " + ", ".join(side.get("targets") or ["Ampere+"])
        return (f"{side['model']} sha256:{side['model_sha256'][:12]}, {side['precision']}, {_sizes(sizes)}, {gpu}, "
                f"{'TensorRT-RTX' if side['flavour'] == 'tensorrt-rtx' else 'TensorRT'} {side['version']}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"no readable sidecar ({type(e).__name__}): Deblur rebuilds it on use"


def _sizes(profile) -> str:
    """``1920x1080`` or ``64x64 to 1920x1088 (best at 1280x720)``: width first, as users write sizes."""
    wide = lambda shape: f"{shape[1]}x{shape[0]}"  # noqa: E731
    return wide(profile.opt) if profile.is_static else \
        f"{wide(profile.min)} to {wide(profile.max)} (best at {wide(profile.opt)})"


def clear(a: argparse.Namespace) -> int:
    """Delete each engine, its sidecar and lock while holding that lock, so no build is cut short. A builder
    already waiting on the lock may then build beside a later one: both write atomically, so at worst twice."""
    from filelock import FileLock, Timeout
    from vs_dvd.trt_build import sidecar_path
    from vs_dvd.trt_build.cache import lock_path

    folder = _folder(a)
    removed, freed, busy = 0, 0, []
    for path in sorted({*folder.glob("*.engine"), *(s.with_suffix("") for s in folder.glob("*.engine.json"))}):
        try:
            lock = lock_path(path)
            with FileLock(lock, timeout=0):
                for victim in (sidecar_path(path), path, *folder.glob(f".{path.name}.*.tmp"), lock):
                    if victim.exists():
                        freed += victim.stat().st_size
                        victim.unlink()
                removed += 1
        except Timeout:
            busy.append(path.name)
    print(f"{folder}: removed {removed} engine(s), {freed / 2**20:.1f} MiB"
          + (f"; left {len(busy)} being built now: {', '.join(busy)}" if busy else ""))
    return 0


def build(a: argparse.Namespace) -> int:
    import vapoursynth as vs

    from .. import backends, model as models
    from ..basics import round_up

    if not backends.runtime_version("trt"):
        print(f"vs-dvd engines build: error: no TensorRT is installed; {TRT_EXTRA} (TensorRT-RTX, for "
              "GeForce RTX GPUs), or NVIDIA TensorRT 10+ for other GPUs: pip install tensorrt "
              "--extra-index-url https://pypi.nvidia.com", file=sys.stderr)
        return 1
    from vs_dvd.trt_build import BuildError, FlavourError

    from ..backends.trt import engine_for

    try:
        info = models.load(a.model)
        for height, width in a.sizes:
            shape = (round_up(height, info.multiple), round_up(width, info.multiple))
            cached = engine_for(info, fp16=a.fp16, shape=shape, device_id=a.device_id, folder=a.folder)
            print(f"{width}x{height}: {cached.path} ({'built' if cached.built else 'already cached'}, "
                  f"{cached.path.stat().st_size / 2**20:.1f} MiB)")
    except (vs.Error, BuildError, FlavourError, ValueError) as e:
        print(f"vs-dvd engines build: error: {e}", file=sys.stderr)
        return 1
    return 0
