"""core.dvd.Deblur on the CPU: ONNX Runtime (backend="cpu") against OpenVINO (backend="ov") in fp32
and, where the CPU computes it natively, bfloat16 (fp16=True).

Same clip, model and VapourSynth core for all; rounds of new frames alternate the order, so that
load from other processes hits every contender alike. Each output is compared with ONNX Runtime's.

    python bench/cpu_backends.py                    # 640x360, bundled model
    python bench/cpu_backends.py --sizes 1920x1080 --rounds 2 --frames 1
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs

from vs_dvd import model as models
from vs_mlrt import Timing, bench_parser, machine, panning_clip, render

core = vs.core
CONTENDERS = {"cpu": ("cpu", False), "ov fp32": ("ov", False), "ov fp16": ("ov", True)}


def measure(width: int, height: int, model: Path, warmup: int, rounds: int, frames: int) -> None:
    """Print fps, CPU seconds per frame and the largest difference from ONNX Runtime, per contender."""
    clip = panning_clip(width, height, warmup + rounds * frames)
    nodes = {name: core.dvd.Deblur(clip, model=str(model), backend=backend, fp16=fp16)
             for name, (backend, fp16) in CONTENDERS.items()}
    for node in nodes.values():
        render(node, 0, warmup)
    total = {name: Timing() for name in nodes}
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in nodes}
    for r in range(rounds):
        order = list(nodes) if r % 2 == 0 else list(nodes)[::-1]
        for name in order:
            timing, rendered = render(nodes[name], warmup + r * frames, frames)
            total[name] += timing
            outputs[name] += rendered
    count = rounds * frames
    print(f"\n| {width}x{height} | fps | CPU s/frame | speed-up | max abs difference from cpu |")
    print("| --- | --- | --- | --- | --- |")
    for name, t in total.items():
        difference = max(float(np.abs(a - b).max()) for a, b in zip(outputs[name], outputs["cpu"]))
        print(f"| {name} | {count / t.wall:.3f} | {t.cpu / count:.2f} | {total['cpu'].wall / t.wall:.2f}x | "
              f"{difference:.2g} |")


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, [(640, 360)], rounds=4)
    args = parser.parse_args(argv)
    version = core.dvd.Version()
    if version["ov"] == "not installed":
        parser.error("OpenVINO is missing: pip install 'vs-dvd[ov]'")
    print(f"machine: {machine()}")
    print(f"model: {models.load(args.model).describe()}; {version['cpu']}, {version['ov']}")
    for width, height in args.sizes:
        measure(width, height, args.model, args.warmup, args.rounds, args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
