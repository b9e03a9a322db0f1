"""core.dvd.Deblur against vs-mlrt's core.ort.Model: the same ONNX, clip and threads, interleaved.

vs-mlrt users run a five-frame model by feeding ``core.ort.Model`` five copies of the clip shifted
by -2 ... +2 (ends repeated); the DBN's 15 input channels are then those clips' R, G, B planes,
oldest first, exactly what ``core.dvd.Deblur`` feeds it. Both run the model with ONNX Runtime
(fp32 on the CPU, its default intra-op threads: one per physical core) inside one VapourSynth core,
so any speed difference is the plumbing around the model. The two are measured alternately, round
by round and in alternating order, so that load from other processes hits both alike.

    python bench/vs_mlrt.py                         # 640x360 and 1280x720, bundled model, CPU
    python bench/vs_mlrt.py --backend cuda --fp16   # backend="cuda" vs provider="CUDA"
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vapoursynth as vs

from vs_dvd import model as models
from vs_dvd.pipeline import shifted
from vs_dvd.basics import RADIUS
from vs_dvd.hardware import machine_line

core = vs.core
TOLERANCE = {"cpu": 1e-4, "cuda": 2e-2}  # max |difference| of outputs in [0, 1]: fp32 vs fp16 / TF32
PROVIDER = {"cpu": "", "cuda": "CUDA"}   # core.ort.Model's name for the same device


@dataclass
class Timing:
    """Wall-clock and CPU seconds (all threads of this process) spent rendering."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


@dataclass
class Result:
    size: str
    frames: int
    ours: Timing
    theirs: Timing
    round_ratios: list[float]  # ours fps / theirs fps, per round
    max_difference: float

    @property
    def ratio(self) -> float:
        return self.theirs.wall / self.ours.wall


def panning_clip(width: int, height: int, length: int) -> vs.VideoNode:
    """RGBS noise panning one pixel per frame: no two frames alike, next to free to make."""
    texture = np.random.default_rng(0).random((3, height, width + length), dtype=np.float32)
    blank = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=length)

    def paint(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = texture[p, :, n:n + width]
        return out

    return blank.std.ModifyFrame(blank, paint)


def contenders(clip: vs.VideoNode, model: Path, backend: str, fp16: bool,
               num_streams: int) -> dict[str, vs.VideoNode]:
    """The clip deblurred by core.dvd.Deblur ("dvd") and by core.ort.Model ("ort")."""
    dvd = core.dvd.Deblur(clip, model=str(model), backend=backend, fp16=fp16, num_streams=num_streams)
    five = [shifted(clip, d) for d in range(-RADIUS, RADIUS + 1)]
    ort = core.ort.Model(five, network_path=str(model), provider=PROVIDER[backend], fp16=fp16,
                         num_streams=num_streams)
    return {"dvd": dvd, "ort": ort}


def render(clip: vs.VideoNode, start: int, count: int) -> tuple[Timing, list[np.ndarray]]:
    """Time to render frames start ... start + count - 1 (prefetched as vspipe does), and them."""
    wall, cpu = time.perf_counter(), time.process_time()
    frames = [np.stack([np.asarray(f[p]) for p in range(3)])
              for f in clip[start:start + count].frames(close=True)]
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), frames


def measure(width: int, height: int, model: Path, backend: str, fp16: bool, num_streams: int,
            warmup: int, rounds: int, frames: int) -> Result:
    """Warm both up, then alternate rounds of ``frames`` new frames each; compare every output."""
    clip = panning_clip(width, height, warmup + rounds * frames)
    nodes = contenders(clip, model, backend, fp16, num_streams)
    for node in nodes.values():
        render(node, 0, warmup)
    total = {name: Timing() for name in nodes}
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in nodes}
    ratios = []
    for r in range(rounds):
        start = warmup + r * frames
        this_round = {}
        for name in (("dvd", "ort") if r % 2 == 0 else ("ort", "dvd")):
            this_round[name], rendered = render(nodes[name], start, frames)
            outputs[name] += rendered
            total[name] += this_round[name]
        ratios.append(this_round["ort"].wall / this_round["dvd"].wall)
        print(f"  {width}x{height} round {r + 1}/{rounds}: "
              + ", ".join(f"{name} {frames / t.wall:.3f} fps ({t.cpu / frames:.2f} CPU s/frame)"
                          for name, t in this_round.items()), flush=True)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(outputs["dvd"], outputs["ort"]))
    return Result(f"{width}x{height}", rounds * frames, total["dvd"], total["ort"], ratios,
                  difference)


def size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 640x360") from None
    if width % 8 or height % 8:
        raise argparse.ArgumentTypeError(f"size {text}: width and height must be multiples of 8, "
                                         "since core.ort.Model does not pad")
    return width, height


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1: pass at least 1")
    return value


def bench_parser(doc: str, sizes: list[tuple[int, int]], rounds: int) -> argparse.ArgumentParser:
    """The arguments every benchmark here takes (model, frame sizes, warm-up, rounds, frames per round),
    with ``doc``'s first paragraph as description and the rest as epilog."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=doc.split("\n\n", 1)[1])
    parser.add_argument("--model", type=Path, default=models.BUNDLED,
                        help="ONNX model (default: the bundled %(default)s)")
    parser.add_argument("--sizes", type=size, nargs="+", default=sizes, metavar="WxH",
                        help=f"frame sizes (default: {' '.join(f'{w}x{h}' for w, h in sizes)})")
    parser.add_argument("--warmup", type=positive, default=1, help="frames each before timing (default %(default)s)")
    parser.add_argument("--rounds", type=positive, default=rounds, help="alternating rounds (default %(default)s)")
    parser.add_argument("--frames", type=positive, default=2, help="frames per round each (default %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, [(640, 360), (1280, 720)], rounds=3)
    parser.add_argument("--backend", choices=sorted(PROVIDER), default="cpu",
                        help="cpu: ONNX Runtime on both sides; cuda: Deblur(backend='cuda') vs "
                             "ort.Model(provider='CUDA') (default %(default)s)")
    parser.add_argument("--fp16", action="store_true", help="half precision on both (cuda only)")
    parser.add_argument("--num-streams", type=positive, default=1, help="for both (default %(default)s)")
    args = parser.parse_args(argv)
    if args.fp16 and args.backend == "cpu":
        parser.error("--fp16 applies to --backend cuda only: both CPU paths compute in fp32")
    if not hasattr(core, "ort"):
        parser.error("core.ort is missing: pip install vapoursynth-mlrt-ort")

    print(f"machine: {machine_line()}")
    print(f"model: {models.load(args.model).describe()}")
    print(f"dvd: vs-dvd {core.dvd.Version()['plugin']}, {core.dvd.Version()[args.backend]}; "
          f"ort: vs-mlrt {core.ort.Version()['version']}, onnxruntime "
          f"{core.ort.Version()['onnxruntime_version']}; VapourSynth threads {core.num_threads}")
    results = [measure(w, h, args.model, args.backend, args.fp16, args.num_streams, args.warmup,
                       args.rounds, args.frames) for w, h in args.sizes]
    print("\n| size | frames each | dvd.Deblur fps | ort.Model fps | ratio | median round ratio "
          "| CPU s/frame dvd / ort | max abs difference |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r.size} | {r.frames} | {r.frames / r.ours.wall:.3f} | "
              f"{r.frames / r.theirs.wall:.3f} | {r.ratio:.3f} | "
              f"{statistics.median(r.round_ratios):.3f} | {r.ours.cpu / r.frames:.2f} / "
              f"{r.theirs.cpu / r.frames:.2f} | {r.max_difference:.2g} |")
    disagree = [r.size for r in results if r.max_difference > TOLERANCE[args.backend]]
    if disagree:
        print(f"OUTPUTS DISAGREE at {', '.join(disagree)}: max difference above "
              f"{TOLERANCE[args.backend]}", file=sys.stderr)
        return 1
    print(f"outputs agree (max abs difference <= {TOLERANCE[args.backend]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
