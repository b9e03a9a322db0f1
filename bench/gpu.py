"""The GPU figures in one command: end-to-end fps through vspipe, the network alone, host CPU ms per frame,
achieved TFLOP/s and their share of the GPU's dense fp16 peak, and vs-mlrt's core.ort.Model as a peer.

    python bench/gpu.py                                             # a CUDA GPU: 1920x1080 and 3840x2160
    python bench/gpu.py --sizes 1920x1080 --frames 200 --num-streams 3
    python bench/gpu.py --device cpu --sizes 64x64 --frames 3       # the same code on the CPU, tiny (the tests)

For each size (BT.709 YUV420P8 from a source that costs nothing) and each contender (on a GPU:
backend="cuda" in fp16 and fp32, and "trt" in fp16 where TensorRT is installed and builds for the GPU;
on the CPU: backend="cpu", and the torch DBN on the CPU device for the network alone):
- end to end: `vspipe script.vpy --` renders WARMUP + FRAMES + 1 frames; the rate is FRAMES over the time
  between frames WARMUP and WARMUP + FRAMES coming out, free of start-up, engine loading and the first
  frames' autotuning;
- host CPU ms per frame: the CPU time (all threads) the vspipe process spent in that interval, per frame;
- the network alone: FRAMES inferences of five resident frames on the device after WARMUP; for the torch
  DBN also two windows in one inference (batch 2), per window: whether batching windows pays;
- TFLOP/s: ``vs_dvd.network.flops`` of the padded frame times the rate and, for a GPU in PEAK_FP16, the
  share of its dense fp16 tensor peak;
- the peer: bench/vs_mlrt.py's comparison (Deblur against core.ort.Model fed five shifted clips, with
  provider CUDA on a GPU) where vs-mlrt is installed, outputs compared.
Exits 1 if a contender failed or the peer's outputs disagree.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

import torch  # noqa: E402
import vapoursynth as vs  # noqa: E402

from cpu_backends import cpu_line  # noqa: E402
from demo.vspipe import VSPIPE, environment  # noqa: E402
from vs_dvd import backends, model as models  # noqa: E402
from vs_dvd.backends import cuda  # noqa: E402
from vs_dvd.basics import FRAMES, first_line, round_up  # noqa: E402
from vs_dvd.gpu import mixed  # noqa: E402
from vs_dvd.network import flops  # noqa: E402
from vs_mlrt import TOLERANCE, bench_parser, measure  # noqa: E402

# Dense fp16 tensor-core peaks (fp32 accumulate, no sparsity) in TFLOP/s, from NVIDIA's data sheets;
# the first name that occurs in torch.cuda.get_device_name counts (so L40S before L4, A100 before A10)
PEAK_FP16 = (("H200", 989.4), ("H100 PCIe", 756.5), ("H100 NVL", 835.5), ("H100", 989.4), ("B200", 2250.0),
             ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0), ("RTX 4090", 165.2))
SCRIPT = """import json, sys, time
sys.path[:0] = [{bench!r}]
from plumbing import source
out = source({width}, {height}, {length}).dvd.Deblur(model={model!r}, backend={backend!r}, fp16={fp16},
                                                    num_streams={streams})
marks = {{}}

def mark(n, f):  # the clocks when the first and the last timed frame come out
    if n in ({first}, {last}):
        marks[n] = (time.perf_counter(), time.process_time())
        if len(marks) == 2:
            open({marks!r}, "w").write(json.dumps(marks))
    return f

out.std.ModifyFrame(out, mark).set_output()
"""


@dataclass(frozen=True)
class Contender:
    backend: str
    fp16: bool

    @property
    def label(self) -> str:
        return f"{self.backend} {'fp16' if self.fp16 else 'fp32'}"


@dataclass
class Row:
    size: str
    contender: str
    fps: float | None = None  # end to end
    host_ms: float | None = None
    alone_fps: float | None = None  # the network alone, one window per inference
    batch2_fps: float | None = None  # windows per second, two per inference
    failure: str | None = None


def peak(device: torch.device) -> tuple[str, float | None]:
    """The device's name and dense fp16 peak in TFLOP/s (None where PEAK_FP16 lacks it)."""
    if device.type != "cuda":
        return "CPU", None
    name = torch.cuda.get_device_name(device)
    return name, next((tflops for key, tflops in PEAK_FP16 if key in name), None)


def contenders(device: torch.device) -> list[Contender]:
    if device.type == "cpu":
        return [Contender("cpu", False)]
    found = [Contender("cuda", True), Contender("cuda", False)]
    if backends.runtime_version("trt"):
        from vs_dvd.trt_build import cannot_build_for

        why = cannot_build_for(device.index or 0)
        if why is None:
            found.append(Contender("trt", True))
        else:
            print(f"trt: not run ({why})")
    else:
        print("trt: not run (TensorRT is not installed)")
    return found


def end_to_end(c: Contender, width: int, height: int, args, folder: Path, env: dict) -> tuple[float, float]:
    """(fps, host CPU ms per frame) of Deblur through vspipe, from the clocks the script reads as frames
    WARMUP and WARMUP + FRAMES come out (start-up, engine loading and the first frames left out)."""
    stem = folder / f"{c.backend}-{int(c.fp16)}-{width}x{height}"
    first, last = args.warmup, args.warmup + args.frames
    stem.with_suffix(".vpy").write_text(SCRIPT.format(
        bench=str(ROOT / "bench"), width=width, height=height, length=last + 1, model=str(args.model),
        backend=c.backend, fp16=c.fp16, streams=args.num_streams, first=first, last=last,
        marks=str(stem.with_suffix(".json"))))
    done = subprocess.run([str(VSPIPE), str(stem.with_suffix(".vpy")), "--"], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"vspipe exited {done.returncode}: {done.stderr.strip()[-800:]}")
    marks = json.loads(stem.with_suffix(".json").read_text())
    (wall0, cpu0), (wall1, cpu1) = marks[str(first)], marks[str(last)]
    return args.frames / (wall1 - wall0), 1000 * (cpu1 - cpu0) / args.frames


def timed(device: torch.device, count: int, step) -> float:
    """Seconds per call of ``step`` over ``count`` calls, the device's queue drained at both ends."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(count):
        step()
    sync()
    return (time.perf_counter() - start) / count


def network_alone(c: Contender, info, device: torch.device, shape: tuple[int, int], args) -> tuple[float, float | None]:
    """Windows per second of the network alone: one per inference, and (torch DBN) two per inference."""
    frames = [torch.rand(3, *shape, device=device) for _ in range(FRAMES)]
    batch = torch.rand(2, 3 * FRAMES, *shape, device=device)
    if c.backend == "trt":
        backend = backends.create("trt", info, device_id=device.index or 0, fp16=True, num_streams=1,
                                  num_threads=0, shape=shape)
        one, two = (lambda: backend.infer(frames)), None
    else:  # the cuda backend's network, on the CPU device with --device cpu
        torch.backends.cudnn.benchmark = True  # as backends.cuda.create sets it
        network = mixed.prepared(cuda.load_dbn(info), device)
        one, two = (lambda: mixed.run(network, frames, c.fp16)), (lambda: mixed.forward(network, batch, c.fp16))
    with torch.inference_mode():
        for step in filter(None, (one, two)):
            for _ in range(args.warmup):
                step()
        rates = [1 / timed(device, args.frames, one)]
        rates.append(2 / timed(device, args.frames, two) if two else None)
    return rates[0], rates[1]


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, [(1920, 1080), (3840, 2160)], rounds=2)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cuda: the GPU figures; cpu: the same code on the CPU (default %(default)s)")
    parser.add_argument("--num-streams", type=int, default=2, help="Deblur's num_streams (default %(default)s)")
    parser.set_defaults(warmup=10, frames=100)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(f"torch {torch.__version__} sees no CUDA GPU; pass --device cpu for the tiny CPU run")
    device = torch.device("cuda", 0) if args.device == "cuda" else torch.device("cpu")
    info = models.load(args.model)
    name, peak_tflops = peak(device)
    print(f"machine: {cpu_line()}")
    print(f"device: {name}; dense fp16 peak: {f'{peak_tflops} TFLOP/s' if peak_tflops else 'not in PEAK_FP16'}; "
          f"torch {torch.__version__}; {backends.runtime_version('trt') or 'no TensorRT'}; "
          f"model: {info.describe()}; num_streams {args.num_streams}; {args.warmup} warm-up + {args.frames} frames")
    rows, peers, failed = [], [], False
    with tempfile.TemporaryDirectory(prefix="vs-dvd-bench-") as folder:
        env = environment(Path(folder) / "config")
        env["PYTHONPATH"] = ":".join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        for width, height in args.sizes:
            shape = (round_up(height, info.multiple), round_up(width, info.multiple))
            for c in contenders(device):
                row = Row(f"{width}x{height}", c.label)
                try:
                    row.fps, row.host_ms = end_to_end(c, width, height, args, Path(folder), env)
                    row.alone_fps, row.batch2_fps = network_alone(c, info, device, shape, args)
                except (RuntimeError, vs.Error, torch.OutOfMemoryError) as e:
                    row.failure, failed = first_line(e), True
                rows.append(row)
                print(f"  {row}", flush=True)
            if hasattr(vs.core, "ort"):
                try:
                    peers.append(measure(width, height, args.model, args.device, args.device == "cuda",
                                         args.num_streams, args.warmup, args.rounds, max(1, args.frames // 10)))
                except vs.Error as e:
                    print(f"peer core.ort.Model at {width}x{height} not run: {first_line(e)}")
            else:
                print("peer core.ort.Model not run: pip install vapoursynth-mlrt-ort (and -cuda for a GPU)")
    network = cuda.load_dbn(info)
    print("\n| size | contender | end-to-end fps | host CPU ms/frame | network alone fps | batch 2, windows/s "
          "| end-to-end / alone | network TFLOP/s | end-to-end TFLOP/s | share of fp16 peak |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        if row.failure:
            print(f"| {row.size} | {row.contender} | failed: {row.failure} | | | | | | | |")
            continue
        width, height = map(int, row.size.split("x"))
        work = flops(network, round_up(height, info.multiple), round_up(width, info.multiple)) / 1e12
        share = f"{100 * work * row.fps / peak_tflops:.1f} %" if peak_tflops else "n/a"
        batch2 = f"{row.batch2_fps:.2f}" if row.batch2_fps else "n/a"
        print(f"| {row.size} | {row.contender} | {row.fps:.2f} | {row.host_ms:.1f} | {row.alone_fps:.2f} | {batch2} "
              f"| {row.fps / row.alone_fps:.2f} | {work * row.alone_fps:.2f} | {work * row.fps:.2f} | {share} |")
    tolerance = TOLERANCE[args.device]
    for r in peers:
        agree = r.max_difference <= tolerance
        failed |= not agree
        print(f"peer at {r.size}: Deblur {r.frames / r.ours.wall:.2f} fps, core.ort.Model {r.frames / r.theirs.wall:.2f} "
              f"fps (RGBS input, {'fp16' if args.device == 'cuda' else 'fp32'}), ratio {r.ratio:.3f}, max abs "
              f"difference {r.max_difference:.2g} ({'agree' if agree else 'DISAGREE'}: tolerance {tolerance})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
