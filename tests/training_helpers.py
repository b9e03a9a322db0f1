"""Tiny media made inside the training tests: frame sequences, videos, image folders, datasets."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def moving_point(count: int, step: int = 1, size: tuple[int, int] = (48, 64), row: int = 20,
                 start: int = 5) -> list[np.ndarray]:
    """Black RGB frames with one white pixel moving ``step`` px right per frame."""
    out = []
    for i in range(count):
        frame = np.zeros((*size, 3), np.uint8)
        frame[row, start + step * i] = 255
        out.append(frame)
    return out


def texture(size: tuple[int, int] = (48, 64), seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture, something optical flow can lock on to."""
    noise = np.random.default_rng(seed).uniform(0, 255, (*size, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)


def panning(count: int, height: int = 72, width: int = 96) -> list[np.ndarray]:
    """A textured scene panning 2 px per frame to the left."""
    scene = texture((height, width + 2 * count))
    return [scene[:, 2 * n:2 * n + width].copy() for n in range(count)]


def write_video(path: Path, frames: list[np.ndarray], fps: int = 240) -> Path:
    """A lossless (PNG-coded) video, so decoded frames equal ``frames`` exactly."""
    av = pytest.importorskip("av")  # here: the lent GPU machine has no PyAV, and its GPU tests import this module
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "rgb24"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_folder(folder: Path, frames: list[np.ndarray], suffix: str = ".png") -> Path:
    """Frames as ``frame1.png``, ``frame2.png``, ... (unpadded, so order must be natural, not lexical)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"frame{i}{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def trained_like(model):
    """Give a fresh DBN's BatchNorm layers non-trivial statistics, as training would (no longer an identity)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                for tensor, low, high in ((module.running_mean, -0.2, 0.2), (module.running_var, 0.5, 2.0),
                                          (module.weight, 0.5, 1.5), (module.bias, -0.1, 0.1)):
                    tensor.copy_(torch.empty_like(tensor).uniform_(low, high, generator=generator))
    return model.eval()


def make_checkpoint(out: Path, model, step: int = 10, align: str | None = None) -> Path:
    """A checkpoint folder written by training.train itself, holding ``model`` (its args saying ``align``, as
    checkpoints of runs on aligned windows do)."""
    import torch

    from training import checkpoint
    from training.train import parse_args

    args = parse_args(["--data", str(out / "unused"), "--out", str(out), "--width", str(model.config.width)])
    args.head, args.align = model.config.head, align
    opt = torch.optim.Adam(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    out.mkdir(parents=True, exist_ok=True)
    return checkpoint.save(out, model, opt, sched, step, vars(args))


def make_dataset(root: Path, clips: dict[str, tuple[np.ndarray, np.ndarray, str]]) -> Path:
    """A dataset folder from {name: (blurry, sharp, split)}, written by training.data.dataset itself."""
    from training.data.dataset import write_clip, write_manifest

    for name, (blurry, sharp, split) in clips.items():
        write_clip(root, name, blurry, sharp, {"split": split})
    write_manifest(root, {"kind": "test"})
    return root
