"""The frame path's own cost on any CPU: today's core.resize path (backend="cpu") against the torch device
path, each with a no-op model of the DBN interface (output = centre frame), at one size of YUV420P8, in
alternating rounds of new frames. Prints ms per frame, in time and in CPU time (all threads of the
process: what the host spends, steadier than time on a loaded machine), and the CPU's name and flags.

The device path runs twice: on the CPU device, where the device's work (conversion, the five-frame batch)
is host work too, and on torch's meta device, where every device operation is dispatched but computes
nothing while the host still stages each frame's planes in and out. The meta run is the host's share of
the path on a GPU, which the issue's target (at most a fifth of today's) is about. It leaves out the CUDA
driver's few microseconds per kernel launch, and counts meta's shape functions instead, partly written in
Python and far slower than queuing the same operation on CUDA; so that device work is also timed alone on
meta, and the host's share is printed with and without it, and the number of operations a frame queues.

    python bench/plumbing.py [--size 1920x1080] [--rounds 3] [--frames 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import vapoursynth as vs
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from plugin_helpers import picker_onnx  # noqa: E402
from vs_dvd import frames, model as models  # noqa: E402
from vs_dvd.backends import cpu, cuda  # noqa: E402
from vs_dvd.gpu import mixed  # noqa: E402
from vs_dvd.gpu.colour import Converter, storage  # noqa: E402
from vs_dvd.pipeline import deblurred  # noqa: E402
from vs_dvd.tiles import Tiling  # noqa: E402


TODAY = "today (core.resize + numpy, backend=cpu)"
HOST_SHARE = "new, the host's share (device work dispatched to the meta device)"
SHAPES = "of which meta's shape functions (that device work alone)"


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
        shapes, operations = meta_work(clip, colour)
        paths = {TODAY: deblurred(clip, colour, host, tiling, 8).get_frame,
                 "new, all of it (torch device path on the CPU device)": deblurred(clip, colour, on("cpu"), tiling, 8).get_frame,
                 HOST_SHARE: deblurred(clip, colour, on("meta"), tiling, 8).get_frame,
                 SHAPES: lambda n: shapes()}
        spent = {name: [0.0, 0.0] for name in paths}  # time, CPU seconds (all threads of this process)
        for r in range(args.rounds + 1):  # round 0 warms up
            order = list(paths) if r % 2 == 0 else list(paths)[::-1]  # alternating, so load hits all alike
            for name in order:
                started = time.perf_counter(), time.process_time()
                for n in range(r * args.frames, (r + 1) * args.frames):
                    paths[name](n)
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
    ratio = lambda name: spent[name][1] / spent[TODAY][1]
    print(f"in CPU time, against today: all of it on the CPU device {ratio(list(paths)[1]):.3f}; the host's share "
          f"on a GPU between {ratio(HOST_SHARE) - ratio(SHAPES):.3f} (less meta's shape functions) and "
          f"{ratio(HOST_SHARE):.3f} (with them); target <= 0.2. Device operations per frame (no views): {operations}, "
          "each a few microseconds of queuing on CUDA")


def meta_work(clip: vs.VideoNode, colour) -> tuple[Callable[[], None], int]:
    """One frame's device work alone on the meta device (conversion to RGB, the batch, conversion back),
    and how many operations other than views it dispatches."""
    fmt = clip.format
    meta = torch.device("meta")
    converter = Converter(fmt, colour, clip.width, clip.height, 8, meta)
    planes = [torch.empty((clip.height >> (fmt.subsampling_h if p else 0), clip.width >> (fmt.subsampling_w if p else 0)),
                          dtype=storage(fmt), device=meta) for p in range(fmt.num_planes)]

    def work() -> None:
        with torch.inference_mode():
            rgb = converter.to_rgb(planes)
            converter.from_rgb(mixed.run(Centre(), [rgb] * 5, False))

    class Counter(TorchDispatchMode):
        operations = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.operations += not func.is_view
            return func(*args, **(kwargs or {}))

    with Counter() as counter:
        work()
    return work, counter.operations


if __name__ == "__main__":
    main()
