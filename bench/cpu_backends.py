"""core.dvd.Deblur's CPU paths against vs-mlrt's CPU plugins: the same model, clip and machine, alternating.

Ours: backend="cpu" (ONNX Runtime, fp32), backend="ov" in fp32, in bfloat16 where the CPU computes it natively
(fp16=True) and from the model's int8 IR (int8=True; its float layers in bfloat16 where native). The peer,
vs-mlrt fed five shifted clips: core.ort.Model (ONNX Runtime, fp32) and core.ov.Model in fp32 and, where
native, bf16, run by bench/mlrt_peer.py under --peer-python (vs-mlrt's OpenVINO cannot share a process with
the openvino wheel). Rounds of new frames alternate the order, so that load from other processes hits every
contender alike; every output is compared with backend="cpu"'s. Prints the CPU's name and its AVX2, AVX-512,
VNNI, AVX512-BF16 and AMX flags with the table.

    python bench/cpu_backends.py --peer-python /tmp/mlrt/bin/python           # 640x360, bundled model
    python bench/cpu_backends.py --peer-python ... --sizes 1920x1080 --rounds 2 --frames 1 --num-streams 2
    ONEDNN_MAX_CPU_ISA=AVX2 python bench/cpu_backends.py ...   # OpenVINO as on a CPU with AVX2 at most
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import vapoursynth as vs

import vs_dvd
from vs_dvd import model as models
from vs_dvd.backends.ov import import_openvino
from vs_dvd.hardware import machine_line
from vs_mlrt import Timing, bench_parser, panning_clip, positive, render

core = vs.core
HERE = Path(__file__).resolve().parent
ISA_CAP = "ONEDNN_MAX_CPU_ISA"  # oneDNN's cap (AVX2, AVX512_CORE, AVX512_CORE_VNNI, ...): another CPU's speed


def cpu_line() -> str:
    """The machine line (``vs_dvd.hardware``: CPU, the flags it has and lacks, load) and oneDNN's instruction-set
    cap if set."""
    line = machine_line()
    if cap := os.environ.get(ISA_CAP):
        line += (f"; {ISA_CAP}={cap}: OpenVINO (ours and vs-mlrt's) computes as on a CPU with at most {cap}, "
                 "ONNX Runtime is not capped")
    return line


def native_bf16() -> bool:
    """Whether OpenVINO computes bfloat16 natively here, within oneDNN's instruction-set cap if one is set."""
    cap = os.environ.get(ISA_CAP, "").upper()
    capped_below = cap and not any(level in cap for level in ("BF16", "AMX"))
    return not capped_below and "BF16" in import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def ours(bf16: bool, int8: bool) -> dict[str, dict]:
    """Our contenders: name -> Deblur's arguments (int8's float layers in bf16 where native)."""
    out = {"dvd cpu": {"backend": "cpu"}, "dvd ov fp32": {"backend": "ov", "fp16": False, "int8": False}}
    if bf16:
        out["dvd ov bf16"] = {"backend": "ov", "fp16": True, "int8": False}
    if int8:
        out["dvd ov int8"] = {"backend": "ov", "fp16": bf16, "int8": True}
    return out


class Peer:
    """bench/mlrt_peer.py in its own process: renders rounds of vs-mlrt's contenders on request."""

    def __init__(self, python: str, width: int, height: int, length: int, model: Path, names: list[str],
                 num_streams: int, folder: str):
        path = os.pathsep.join([str(HERE.parent), str(HERE)])
        self.process = subprocess.Popen([python, str(HERE / "mlrt_peer.py")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path})
        self.versions = self._ask({"width": width, "height": height, "length": length, "model": str(model),
                                   "names": names, "num_streams": num_streams, "folder": folder})["versions"]

    def _ask(self, message: dict) -> dict:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"bench/mlrt_peer.py stopped (exit {self.process.wait()}); see its error above")
        return json.loads(line)

    def render(self, name: str, start: int, count: int) -> tuple[Timing, list[np.ndarray]]:
        reply = self._ask({"name": name, "start": start, "count": count})
        frames = np.load(reply["frames"])
        os.unlink(reply["frames"])
        return Timing(reply["wall"], reply["cpu"]), list(frames)

    def close(self) -> None:
        self.process.stdin.write("\n")
        self.process.stdin.close()
        self.process.wait()


def measure(width: int, height: int, model: Path, peer_python: str | None, warmup: int, rounds: int,
            frames: int, num_streams: int, bf16: bool, int8: bool, only: list[str] | None) -> None:
    """Print fps, CPU seconds per frame, the ratio to the peer's fastest and the largest difference from
    backend="cpu", per contender."""
    length = warmup + rounds * frames
    clip = panning_clip(width, height, length)
    mine = {name: vs_dvd.deblur(clip, model=str(model), num_streams=num_streams, **args)
            for name, args in ours(bf16, int8).items() if not only or name in only or name == "dvd cpu"}
    renderers = {name: (lambda node: lambda start, count: render(node, start, count))(node)
                 for name, node in mine.items()}
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as folder:
        peer = None
        if peer_python:
            names = [name for name in ["ort", "ov fp32"] + (["ov bf16"] if bf16 else [])
                     if not only or f"mlrt {name}" in only]
            peer = Peer(peer_python, width, height, length, model, names, num_streams, folder)
            print(f"peer: {peer.versions}")
            renderers.update({f"mlrt {name}": (lambda name: lambda start, count: peer.render(name, start, count))(name)
                              for name in names})
        for render_frames in renderers.values():
            render_frames(0, warmup)
        total = {name: Timing() for name in renderers}
        outputs: dict[str, list[np.ndarray]] = {name: [] for name in renderers}
        for r in range(rounds):
            for name in (list(renderers) if r % 2 == 0 else list(renderers)[::-1]):
                timing, rendered = renderers[name](warmup + r * frames, frames)
                total[name] += timing
                outputs[name] += rendered
            print(f"  {width}x{height} round {r + 1}/{rounds}: "
                  + ", ".join(f"{name} {(r + 1) * frames / t.wall:.3f} fps" for name, t in total.items()), flush=True)
        if peer:
            peer.close()
    count = rounds * frames
    fps = {name: count / t.wall for name, t in total.items()}
    best_peer = max((name for name in fps if name.startswith("mlrt")), key=fps.get, default=None)
    print(f"\n| {width}x{height}, {num_streams} stream(s) | fps | CPU s/frame | x {best_peer or 'peer'} "
          "| max abs difference from dvd cpu |")
    print("| --- | --- | --- | --- | --- |")
    for name, t in total.items():
        difference = max(float(np.abs(a - b).max()) for a, b in zip(outputs[name], outputs["dvd cpu"]))
        ratio = f"{fps[name] / fps[best_peer]:.2f}x" if best_peer else "-"
        print(f"| {name} | {fps[name]:.3f} | {t.cpu / count:.2f} | {ratio} | {difference:.2g} |")


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, [(640, 360)], rounds=4)
    parser.add_argument("--peer-python", metavar="PYTHON",
                        help="a Python with VapourSynth, numpy, vapoursynth-mlrt-ov and vapoursynth-mlrt-ort, "
                             "to run vs-mlrt in (default: no peer)")
    parser.add_argument("--num-streams", type=positive, default=1,
                        help="num_streams of every contender: OpenVINO's throughput streams, concurrent ONNX "
                             "Runtime runs (default %(default)s)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="these contenders alone (and dvd cpu, the reference), e.g. 'dvd ov int8' 'mlrt ov bf16'")
    args = parser.parse_args(argv)
    version = vs_dvd.version()  # vs_dvd.deblur and .version are core.dvd.Deblur and .Version
    if version["ov"] == "not installed":
        parser.error("OpenVINO is missing: pip install 'vs-dvd[ov]'")
    info = models.load(args.model)
    print(f"machine: {cpu_line()}")
    print(f"model: {info.describe()}; {version['cpu']}, {version['ov']}"
          + ("" if info.int8 else f"; no int8 ({info.int8_problem})"))
    for width, height in args.sizes:
        measure(width, height, args.model, args.peer_python, args.warmup, args.rounds, args.frames,
                args.num_streams, native_bf16(), info.int8 is not None, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
