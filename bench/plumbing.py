"""The frame path's own cost on any CPU: today's core.resize path (backend="cpu") against the torch device
path on the CPU device, each with a no-op model of the DBN interface (output = centre frame), at one size
of YUV420P8, in alternating rounds of new frames. Prints ms per frame and the CPU's name and flags.

    python bench/plumbing.py [--size 1920x1080] [--rounds 3] [--frames 4]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import vapoursynth as vs

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from plugin_helpers import picker_onnx  # noqa: E402
from vs_dvd import frames, model as models  # noqa: E402
from vs_dvd.backends import cpu, cuda  # noqa: E402
from vs_dvd.hardware import machine_line  # noqa: E402
from vs_dvd.pipeline import deblurred  # noqa: E402
from vs_dvd.tiles import Tiling  # noqa: E402


class Centre(torch.nn.Module):
    """The DBN's interface, no work: N x 15 x H x W in, the centre frame out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 6:9]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=4, help="new frames per path per round")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    core = vs.core
    length = (args.rounds + 1) * args.frames + 4
    clip = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=length, color=[0.3, 0.5, 0.7])
    clip = clip.resize.Bicubic(format=vs.YUV420P8, matrix=1, range=0)
    colour = frames.colour_of(clip, None)
    tiling = Tiling.fit((-(-height // 8) * 8, -(-width // 8) * 8), None, (0, 0))
    with tempfile.TemporaryDirectory() as folder:
        info = models.load(picker_onnx(Path(folder) / "centre.onnx", index=2))
        host = cpu.create(info, device_id=0, fp16=False, num_streams=1, num_threads=0, shape=tiling.tile)
        device = cuda.CudaBackend(Centre(), torch.device("cpu"), fp16=False, num_streams=1)
        paths = {"today (core.resize + numpy, backend=cpu)": deblurred(clip, colour, host, tiling, 8),
                 "new (torch device path, CPU device)": deblurred(clip, colour, device, tiling, 8)}
        spent = {name: 0.0 for name in paths}
        for r in range(args.rounds + 1):  # round 0 warms up
            order = list(paths) if r % 2 == 0 else list(paths)[::-1]
            for name in order:
                start = time.perf_counter()
                for n in range(r * args.frames, (r + 1) * args.frames):
                    paths[name].get_frame(n)
                if r:
                    spent[name] += time.perf_counter() - start
    print(f"CPU: {machine_line()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {width}x{height} YUV420P8, "
          f"{args.rounds} rounds of {args.frames} frames per path after a warm-up round")
    print("| path | ms per frame |\n| --- | --- |")
    per_frame = {name: 1000 * t / (args.rounds * args.frames) for name, t in spent.items()}
    for name, ms in per_frame.items():
        print(f"| {name} | {ms:.1f} |")
    today, new = per_frame.values()
    print(f"new / today: {new / today:.3f} (target <= 0.2)")


if __name__ == "__main__":
    main()
