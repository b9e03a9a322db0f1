"""vs-dvd render on Ray: frames per second with 1 and 2 workers on this machine, the costs the chunked design
adds (script evaluation per chunk, Ray start-up, concatenation), and from them its expected scaling on N GPUs.

    python bench/fleet.py                        # bundled model, 320x180, 32 frames in 4 chunks
    python bench/fleet.py --size 640x360 --frames 48 --chunk-frames 12

The script is a synthetic moving pattern through core.dvd.Deblur (backend auto) to YUV420P8, rendered to
lossless FFV1 chunks. Renders alternate 1, 2, 2, 1 workers so that load from other processes hits both alike.
On a CPU the workers share the cores (each Deblur uses them all), so the 2-worker figure there measures the
design's overhead rather than its scaling, which needs one device per worker.

Model of a render of F frames in C chunks on N devices (each chunk evaluates the script once):
    T(N) = T_ray + T_eval + ceil(C / N) * (T_eval + (F / C) * t_frame) + T_concat
T_ray: Ray start-up; T_eval: one script evaluation (vspipe start, model load and check); t_frame: seconds per
frame on one device; T_concat: joining the chunks (ffmpeg -c copy: a start-up plus one copy of OUT's bytes,
measured here on a small OUT, so its start-up). The planning probe is one T_eval.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402

from demo.vspipe import VSPIPE, environment  # noqa: E402
from vs_dvd import backends  # noqa: E402
from vs_dvd.fleet import concat, manifest  # noqa: E402
from vs_dvd.fleet import render as driver  # noqa: E402
from vs_dvd.hardware import machine_line  # noqa: E402

SCRIPT = """import numpy as np
import vapoursynth as vs
W, H, N = {width}, {height}, {frames}
y, x = np.mgrid[0:H, 0:W].astype(np.float32)
def paint(n, f):
    out = f.copy()
    for p, plane in enumerate((np.sin((x + 3 * n) * 0.05) * np.cos(y * 0.04), np.sin((x + y) * 0.03 + n * 0.2),
                               np.cos((y - 2 * n) * 0.06 + x * 0.01))):
        np.asarray(out[p])[...] = 0.5 + 0.4 * plane
    return out
blank = vs.core.std.BlankClip(format=vs.RGBS, width=W, height=H, length=N)
src = blank.std.ModifyFrame(blank, paint)
vs.core.dvd.Deblur(src).resize.Bicubic(format=vs.YUV420P8, matrix=1).set_output()
"""
FILM = (170_000, 1000)  # a two-hour film at 24 fps, in chunks of vs-dvd render's default length
GPUS = (1, 2, 4, 8, 16, 32)
GPU_FPS = 20  # an assumption for the paper model: about what one datacentre GPU renders of 1080p (README)


def git_commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def render(script: Path, out: Path, chunk_frames: int, workers: int, keep: bool = False) -> float:
    start = time.perf_counter()
    driver.render(driver.Options(script, out, chunk_frames, workers=workers, keep_chunks=keep, overwrite=True),
                  say=lambda line: None)
    return time.perf_counter() - start


def model(n: int, frames: int, chunks: int, t_ray: float, t_eval: float, t_frame: float, t_concat: float) -> float:
    """T(N) of the docstring: seconds to render ``frames`` in ``chunks`` on ``n`` devices."""
    return t_ray + t_eval + math.ceil(chunks / n) * (t_eval + frames / chunks * t_frame) + t_concat


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="320x180", help="WIDTHxHEIGHT of the synthetic clip (default %(default)s)")
    p.add_argument("--frames", type=int, default=32, help="frames to render (default %(default)s)")
    p.add_argument("--chunk-frames", type=int, default=8, help="frames per chunk (default %(default)s)")
    a = p.parse_args(argv)
    width, height = map(int, a.size.split("x"))
    chunks = math.ceil(a.frames / a.chunk_frames)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; commit {git_commit()}")
    print(f"machine: {machine_line()}")
    print(f"Deblur backend: {backends.auto_choice()[0]} (auto), bundled model; {width}x{height}, {a.frames} frames "
          f"in {chunks} chunks of {a.chunk_frames}, FFV1")
    with tempfile.TemporaryDirectory(prefix="vs-dvd-bench-fleet-") as work:
        work = Path(work)
        script = work / "bench.vpy"
        script.write_text(SCRIPT.format(width=width, height=height, frames=a.frames))
        env = environment(work / "config")
        os.environ["XDG_CONFIG_HOME"] = env["XDG_CONFIG_HOME"]  # Ray's workers run this Python's vspipe
        t_eval = statistics.median(timed([str(VSPIPE), "--info", str(script)], env) for _ in range(3))
        t_single = timed([str(VSPIPE), "-c", "y4m", str(script), "/dev/null"], env)
        t_frame = (t_single - t_eval) / a.frames
        start = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="WARNING")
        t_ray = time.perf_counter() - start
        try:
            walls: dict[int, list[float]] = {1: [], 2: []}
            for workers in (1, 2, 2, 1):
                walls[workers].append(render(script, work / f"out{workers}.mkv", a.chunk_frames, workers))
            render(script, work / "kept.mkv", a.chunk_frames, 1, keep=True)
        finally:
            ray.shutdown()
        kept = sorted(manifest.folder_for(work / "kept.mkv").glob("*.mkv"))
        start = time.perf_counter()
        concat.concat(kept, work / "joined.mkv")
        t_concat = time.perf_counter() - start
    print(f"\nmeasured: script evaluation T_eval {t_eval:.2f} s (vspipe --info, median of 3); one vspipe render "
          f"{t_single:.2f} s, so t_frame {t_frame:.3f} s ({1 / t_frame:.2f} fps); Ray start-up T_ray {t_ray:.2f} s; "
          f"joining {chunks} chunks T_concat {t_concat:.2f} s")
    print("\n| workers | render wall s (each round) | fps | model T(N) s |")
    print("| --- | --- | --- | --- |")
    for workers, times in walls.items():
        mean = statistics.mean(times)
        predicted = model(workers, a.frames, chunks, 0, t_eval, t_frame, t_concat)
        print(f"| {workers} | {', '.join(f'{t:.1f}' for t in times)} | {a.frames / mean:.2f} | {predicted:.1f} |")
    print(f"speed-up 2 vs 1 workers: {statistics.mean(walls[1]) / statistics.mean(walls[2]):.2f}x "
          f"(these {workers} workers share {os.cpu_count()} CPU cores)")
    frames, chunk = FILM
    film_chunks, t_gpu = math.ceil(frames / chunk), 1 / GPU_FPS
    base = model(1, frames, film_chunks, t_ray, t_eval, t_gpu, t_concat)
    print(f"\non paper: {frames} frames in {film_chunks} chunks of {chunk}, one GPU per worker at an assumed "
          f"{GPU_FPS} fps each, with this run's T_ray, T_eval and T_concat (plus one copy of OUT, not modelled)")
    print("| GPUs N | T(N) | speed-up | efficiency |")
    print("| --- | --- | --- | --- |")
    for n in GPUS:
        t = model(n, frames, film_chunks, t_ray, t_eval, t_gpu, t_concat)
        print(f"| {n} | {t / 3600:.2f} h | {base / t:.2f}x | {base / t / n:.0%} |")
    print(f"per-chunk overhead: T_eval / (chunk x t_frame) = {t_eval / (chunk * t_gpu):.1%} of a chunk's work; "
          f"the speed-up stays near N while the {film_chunks} chunks divide evenly among the GPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
