"""The frame path's own cost on any CPU: today's core.resize path (backend="cpu") against the torch device
path, each with a no-op model of the DBN interface (output = centre frame), at one size of YUV420P8, in
alternating rounds of new frames. Prints ms per frame, in time and in CPU time (all threads of the
process: what the host spends, steadier than time on a loaded machine), and the CPU's name and flags.

The device path runs twice: on the CPU device, where the device's work (conversion, the five-frame batch)
is host work too, and on torch's meta device, where every device operation is dispatched but computes
nothing while the host still stages each frame's planes in and out. The meta run is the host's share of
the path on a GPU, which the issue's target (at most a fifth of today's) is about. It leaves out the CUDA
driver's few microseconds per kernel launch, and counts meta's shape functions instead, partly written in
Python and slower than the dispatch of the same operation to CUDA.

    python bench/plumbing.py [--size 1920x1080] [--rounds 3] [--frames 4]
"""
from __future__ import annotations

import argparse
import os
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
from vs_dvd.pipeline import deblurred  # noqa: E402
from vs_dvd.tiles import Tiling  # noqa: E402


TODAY = "today (core.resize + numpy, backend=cpu)"
HOST_SHARE = "new, the host's share (device work dispatched to the meta device)"


class Centre(torch.nn.Module):
    """The DBN's interface, no work: N x 15 x H x W in, the centre frame out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 6:9]


def source(width: int, height: int, length: int) -> vs.VideoNode:
    """BT.709 limited-range YUV420P8 that costs nothing to make (one frame, kept), whatever the path."""
    return vs.core.std.BlankClip(format=vs.YUV420P8, width=width, height=height, length=length,
                                 color=[90, 110, 150], keep=True).std.SetFrameProps(_Matrix=1, _Range=0)


def cpu_line() -> str:
    info = {key.strip(): value for key, value in (line.split(":", 1) for line in open("/proc/cpuinfo") if ":" in line)}
    return f"{info['model name'].strip()}; flags: {info['flags'].strip()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=4, help="new frames per path per round")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    length = (args.rounds + 1) * args.frames + 4
    clip = source(width, height, length)
    colour = frames.colour_of(clip, None)
    tiling = Tiling.fit((-(-height // 8) * 8, -(-width // 8) * 8), None, (0, 0))
    with tempfile.TemporaryDirectory() as folder:
        info = models.load(picker_onnx(Path(folder) / "centre.onnx", index=2))
        host = cpu.create(info, device_id=0, fp16=False, num_streams=1, num_threads=0, shape=tiling.tile)
        on = lambda device: cuda.CudaBackend(Centre(), torch.device(device), fp16=False, num_streams=1)
        paths = {TODAY: deblurred(clip, colour, host, tiling, 8),
                 "new, all of it (torch device path on the CPU device)": deblurred(clip, colour, on("cpu"), tiling, 8),
                 HOST_SHARE: deblurred(clip, colour, on("meta"), tiling, 8)}
        spent = {name: [0.0, 0.0] for name in paths}  # time, CPU seconds (all threads of this process)
        for r in range(args.rounds + 1):  # round 0 warms up
            order = list(paths) if r % 2 == 0 else list(paths)[::-1]  # alternating, so load hits all alike
            for name in order:
                started = time.perf_counter(), time.process_time()
                for n in range(r * args.frames, (r + 1) * args.frames):
                    paths[name].get_frame(n)
                if r:
                    spent[name][0] += time.perf_counter() - started[0]
                    spent[name][1] += time.process_time() - started[1]
    print(f"CPU: {cpu_line()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f}; "
          f"{width}x{height} YUV420P8, {args.rounds} rounds of {args.frames} frames per path after a warm-up round")
    print("| path | ms per frame | CPU ms per frame |\n| --- | --- | --- |")
    count = args.rounds * args.frames
    for name, (seconds, cpu_seconds) in spent.items():
        print(f"| {name} | {1000 * seconds / count:.1f} | {1000 * cpu_seconds / count:.1f} |")
    for name, (seconds, cpu_seconds) in list(spent.items())[1:]:
        print(f"{name} / today: {seconds / spent[TODAY][0]:.3f} in time, {cpu_seconds / spent[TODAY][1]:.3f} in CPU time"
              + (" (target <= 0.2: the host's cost)" if name == HOST_SHARE else ""))


if __name__ == "__main__":
    main()
