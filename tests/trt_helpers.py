"""Shared by the trt_build and trt backend tests: the bundled model, a small trained-looking one, GPU skips."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "vs_dvd" / "data" / "dbn.onnx"


def random_dbn_onnx(path: Path, width: int = 4, seed: int = 0) -> Path:
    """A width-``width`` DBN with random weights and BatchNorm statistics, exported like a trained one."""
    import torch

    from training.export import export_onnx
    from vs_dvd.network import DBN, DBNConfig

    torch.manual_seed(seed)
    model = DBN(DBNConfig(width=width))
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.weight.data.uniform_(0.5, 1.5)
        bn.running_mean.uniform_(-0.1, 0.1)
        bn.running_var.uniform_(0.5, 1.5)
    export_onnx(model, path)
    return path


def write_clip(path: Path, size: tuple[int, int] = (72, 80), frames: int = 5) -> Path:
    """A lossless moving test-pattern clip made by ffmpeg."""
    h, w = size
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={w}x{h}:rate=5",
                    "-frames:v", str(frames), "-c:v", "ffv1", str(path)], check=True)
    return path


def engine_gpu_missing() -> str | None:
    """Why TensorRT engines cannot run here, or None when a CUDA GPU the installed flavour targets is present."""
    from vs_dvd.trt_build import cannot_build_for
    from vs_dvd.trt_build.check import engine_unrunnable

    return engine_unrunnable() or cannot_build_for(0)


def requires_engine_gpu() -> pytest.MarkDecorator:
    reason = engine_gpu_missing()
    return pytest.mark.skipif(reason is not None, reason=reason or "")
