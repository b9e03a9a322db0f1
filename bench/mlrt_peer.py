"""vs-mlrt's CPU plugins as bench/cpu_backends.py's peer, in a process of their own.

vs-mlrt's OpenVINO plugin (``vapoursynth-mlrt-ov``) brings its own OpenVINO, which cannot share a process
with the ``openvino`` wheel behind ``backend="ov"``; so cpu_backends.py starts this script under another
Python environment's interpreter (``--peer-python``; one with ``VapourSynth``, ``numpy``,
``vapoursynth-mlrt-ov`` and ``vapoursynth-mlrt-ort``) and asks it for rounds of frames, one JSON line each
way on stdin and stdout. The peer is fed as vs-mlrt's users feed a five-frame model: five copies of the
clip shifted by -2 ... +2, the same panning clip as ours. OpenVINO is set up as vsmlrt.py's ``OV_CPU``
sets it up (``NUM_STREAMS`` as asked, threads pinned, ``INFERENCE_PRECISION_HINT`` f32 or, with ``bf16=True``, bf16).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs

from vs_dvd.basics import RADIUS
from vs_dvd.pipeline import shifted
from vs_mlrt import panning_clip, render

core = vs.core
PRECISION = {"ov fp32": "f32", "ov bf16": "bf16"}  # contender -> OpenVINO's INFERENCE_PRECISION_HINT


def nodes(width: int, height: int, length: int, model: str, names: list[str],
          num_streams: int) -> dict[str, vs.VideoNode]:
    """The peer's contenders (``ort``, ``ov fp32``, ``ov bf16``) on the panning clip of this size."""
    five = [shifted(panning_clip(width, height, length), d) for d in range(-RADIUS, RADIUS + 1)]
    out = {}
    for name in names:
        if name == "ort":
            out[name] = core.ort.Model(five, network_path=model, provider="", fp16=False,
                                       num_streams=num_streams)
        else:
            config = {"NUM_STREAMS": str(num_streams), "ENABLE_CPU_PINNING": "YES", "INFERENCE_PRECISION_HINT": PRECISION[name]}
            out[name] = core.ov.Model(five, network_path=model, device="CPU", num_streams=num_streams,
                                      config=lambda config=config: config)
    return out


def versions() -> str:
    return (f"vs-mlrt {core.ov.Version()['version']} (OpenVINO {core.ov.Version()['openvino_version_build']}, "
            f"ONNX Runtime {core.ort.Version()['onnxruntime_version']})")


def main() -> None:
    """First line: {"width", "height", "length", "model", "names", "num_streams", "folder"}; then {"name", "start", "count"}
    per round, answered with {"wall", "cpu", "frames": an .npy file in folder}; an empty line ends."""
    setup = json.loads(sys.stdin.readline())
    clips = nodes(setup["width"], setup["height"], setup["length"], setup["model"], setup["names"],
                  setup["num_streams"])
    folder = Path(setup["folder"])
    print(json.dumps({"versions": versions()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        ask = json.loads(line)
        timing, frames = render(clips[ask["name"]], ask["start"], ask["count"])
        path = folder / f"{len(list(folder.iterdir()))}.npy"
        np.save(path, np.stack(frames))
        print(json.dumps({"wall": timing.wall, "cpu": timing.cpu, "frames": str(path)}), flush=True)


if __name__ == "__main__":
    main()
