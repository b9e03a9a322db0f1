"""``--check MEDIA``: how far a built engine strays from ONNX Runtime in fp32, as PSNR over five real frames.

Two measurements against the fp32 reference: the lowered graph (``precision.py``), emulated on ONNX
Runtime's CPU (low-precision tensors, fp32 arithmetic), which runs anywhere and isolates what lowering
costs, and the engine itself, which needs a CUDA GPU the engine was built for and PyTorch with CUDA.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from vs_dvd.basics import FRAMES, first_line, psnr

from .build import sidecar_path
from .flavour import Flavour, load
from .precision import emulated_in_fp32, lower_precision
from .profile import Profile, format_shape, round_up

TARGET_DB = {"fp16": 50.0, "fp32": 60.0, "bf16": 40.0}


def _decode(media: Path) -> list[np.ndarray]:
    """Up to five RGB frames (H x W x 3 uint8) from the start of a video, or the one of a still image."""
    import av

    if not Path(media).is_file():
        raise ValueError(f"--check {media}: no such file; give a video or an image")
    frames = []
    try:
        with av.open(str(media)) as container:
            if not container.streams.video:
                raise ValueError(f"--check {media}: has no video stream; give a video or an image")
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) == FRAMES:
                    break
    except av.FFmpegError as e:
        raise ValueError(f"--check {media}: FFmpeg cannot decode it ({e}); give a video or an image "
                         "FFmpeg reads (mp4, mkv, png, jpeg, ...)") from None
    if len(frames) == 1:
        frames *= FRAMES  # a still image: five identical frames
    if len(frames) != FRAMES:
        raise ValueError(f"--check {media}: has {len(frames)} frames; give a video with at least "
                         f"{FRAMES}, or a single still image")
    return frames


def read_frames(media: Path, profile: Profile) -> np.ndarray:
    """The model input for ``media``: 1 x 15 x h x w float32 in [0, 1], five centre crops, oldest first.

    The crop is the profile's opt size, or less where the picture is smaller (height and width padded
    up to a multiple of 8 first, as the plugin does); a picture smaller than the profile's min is refused.
    """
    frames = _decode(media)
    height, width = frames[0].shape[:2]
    h, w = min(profile.opt[0], round_up(height)), min(profile.opt[1], round_up(width))
    if h < profile.min[0] or w < profile.min[1]:
        raise ValueError(f"--check {media}: its frames are {height}x{width}, smaller than the engine's smallest "
                         f"input {format_shape(profile.min)}; check with larger frames, or build with a "
                         f"--min-shape of at most {format_shape((round_up(height), round_up(width)))}")
    top, left = (round_up(height) - h) // 2, (round_up(width) - w) // 2
    crops = []
    for rgb in frames:
        padded = np.pad(rgb, ((0, round_up(height) - height), (0, round_up(width) - width), (0, 0)), mode="edge")
        crops.append(padded[top:top + h, left:left + w].transpose(2, 0, 1))
    return (np.concatenate(crops).astype(np.float32) / 255)[None]


def run_onnx(model: onnx.ModelProto, frames: np.ndarray) -> np.ndarray:
    """``model`` on ``frames`` through ONNX Runtime on the CPU."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: frames})[0]


def run_engine(data: bytes, frames: np.ndarray, *, device: int, flavour: Flavour) -> np.ndarray:
    """The serialized engine ``data`` on ``frames`` (GPU ``device``)."""
    import torch

    from .runner import Engine

    engine = Engine(flavour, data, device)
    return engine.runner()(torch.from_numpy(frames).to(engine.device)).cpu().numpy()


def engine_unrunnable() -> str | None:
    """Why no engine can run in this process, None when PyTorch sees a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed (pip install 'vs-dvd[cuda]')"
    if not torch.cuda.is_available():
        return "PyTorch sees no CUDA GPU"
    return None


@dataclass(frozen=True)
class Measurement:
    """One PSNR against ONNX Runtime in fp32, or why it could not be taken."""

    label: str
    target_db: float
    db: float | None = None
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        """Measured, and not below the target: what was not measured has not passed."""
        return self.db is not None and self.db >= self.target_db

    def __str__(self) -> str:
        if self.db is None:
            return f"{self.label}: not measured: {self.skipped}"
        verdict = "ok" if self.passed else "BELOW TARGET"
        return f"{self.label}: {self.db:.1f} dB (target {self.target_db:.0f} dB) {verdict}"


def check_engine(onnx_path: Path, engine_path: Path, media: Path, *, device: int = 0,
                 flavour: Flavour | None = None) -> list[Measurement]:
    """PSNR of the lowered graph (emulated on ONNX Runtime) and of the engine (GPU) against fp32 ONNX Runtime
    on ``media``."""
    sidecar = json.loads(sidecar_path(engine_path).read_text())
    precision, target = sidecar["precision"], TARGET_DB[sidecar["precision"]]
    profile = Profile(*(tuple(sidecar["profile"][k]) for k in ("min", "opt", "max")))
    frames = read_frames(media, profile)
    model = onnx.load(onnx_path)
    reference = run_onnx(model, frames)
    results = []
    label = f"{precision} graph emulated on ONNX Runtime"
    emulated = emulated_in_fp32(lower_precision(model, precision))
    try:
        results.append(Measurement(label, target, psnr(run_onnx(emulated, frames), reference)))
    except Exception as e:  # ONNX Runtime raises several types; one before 1.20 lacks bf16 lowering's opset 22
        results.append(Measurement(label, target, skipped=f"ONNX Runtime cannot run it ({first_line(e)})"))
    flavour = flavour or load()
    label = f"{precision} engine on {flavour.label}"
    why_not = engine_unrunnable()
    if why_not:
        results.append(Measurement(label, target, skipped=why_not))
    else:
        data = Path(engine_path).read_bytes()
        results.append(Measurement(label, target, psnr(run_engine(data, frames, device=device, flavour=flavour),
                                                        reference)))
    return results
