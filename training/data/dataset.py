"""The on-disk dataset every synthesis writes, and the training-time view of it.

A dataset is a folder with ``manifest.json`` and one sub-folder per clip holding ``blurry.npy`` and
``sharp.npy`` (T x H x W x 3 uint8 RGB; blurry frame k is the blur around sharp frame k) plus
``meta.json``. Clips are written to a temporary folder and renamed, so an interrupted synthesis
resumes by skipping the clips that exist. Arrays are memory-mapped, so training reloads instantly.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vs_dvd.basics import FRAMES, MANIFEST, dataset_clips, neighbours

SCALES = (1 / 4, 1 / 3, 1 / 2, 1.0)  # the paper's scale augmentation


def has_clip(root: Path, name: str) -> bool:
    """A finished clip; ``.``-prefixed folders are writes that were interrupted before their rename."""
    return not name.startswith(".") and (Path(root) / name / "meta.json").is_file()


def write_clip(root: Path, name: str, blurry: np.ndarray, sharp: np.ndarray, meta: dict) -> None:
    """Write one clip atomically (temporary folder + rename)."""
    if blurry.shape != sharp.shape or blurry.ndim != 4 or blurry.shape[-1] != 3:
        raise ValueError(f"clip {name}: blurry {blurry.shape} and sharp {sharp.shape} must both be T x H x W x 3")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
    try:
        np.save(tmp / "blurry.npy", np.ascontiguousarray(blurry, np.uint8))
        np.save(tmp / "sharp.npy", np.ascontiguousarray(sharp, np.uint8))
        (tmp / "meta.json").write_text(json.dumps({**meta, "frames": len(sharp)}))
        os.chmod(tmp, 0o755)
        os.replace(tmp, root / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_manifest(root: Path, info: dict) -> dict:
    """Record what the dataset holds (clips with their split, plus ``info``) in its manifest."""
    root = Path(root)
    clips = {d.name: json.loads((d / "meta.json").read_text())
             for d in sorted(root.iterdir()) if has_clip(root, d.name)}
    manifest = {"format": 1, **info, "clips": clips}
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / MANIFEST)
    return manifest


@dataclass(frozen=True)
class Crop:
    """Where sample ``i`` comes from: clip, target frame, square of side ``span`` scaled to the crop
    size, then ``rot`` quarter turns and an optional horizontal flip; ``sharp`` marks the window's frames
    that are fed sharp instead of blurry."""
    clip: int
    frame: int
    span: int
    y0: int
    x0: int
    rot: int
    flip: bool
    sharp: tuple[bool, ...] = (False,) * FRAMES


def cut(p: Crop, blurry, sharp, crop: int) -> torch.Tensor:
    """Sample ``p`` of one clip's T x H x W x 3 uint8 frames (numpy, memory-mapped, or torch on any device):
    18 x crop x crop float32 in [0, 1], the five window frames oldest first, then the sharp target."""
    ys, xs = slice(p.y0, p.y0 + p.span), slice(p.x0, p.x0 + p.span)
    js = neighbours(p.frame, len(sharp))
    tensor = lambda a: a if isinstance(a, torch.Tensor) else torch.from_numpy(np.array(a))  # a copy: memmaps are read-only
    frames = tensor(blurry[js, ys, xs])  # 5 x span x span x 3
    if any(p.sharp):
        lucky = torch.tensor(p.sharp, device=frames.device)[:, None, None, None]
        frames = torch.where(lucky, tensor(sharp[js, ys, xs]), frames)
    stack = torch.cat([frames.permute(0, 3, 1, 2).reshape(3 * FRAMES, p.span, p.span),
                       tensor(sharp[p.frame, ys, xs]).permute(2, 0, 1)]).float().div_(255.0)
    if p.span != crop:
        stack = F.interpolate(stack[None], size=(crop, crop), mode="area")[0]
    stack = torch.rot90(stack, p.rot, dims=(1, 2))
    return stack.flip(2) if p.flip else stack


class ClipDataset(Dataset):
    """Random training samples: (15 x c x c blurry window, 3 x c x c sharp centre), float32 in [0, 1].

    Item ``i`` is a pure function of (seed, i): the data position is just the sample counter, so a
    resumed run sees the same samples as an uninterrupted one, however many loader workers run.
    ``augment=False`` gives centred crops at scale 1 without flips, for validation. ``sharp_frames`` is
    the chance that a window's frame is fed sharp ("lucky frames": hand shake leaves some frames sharp
    between blurry ones, and a sharp centre must come out unchanged).
    """

    def __init__(self, roots: list[Path], split: str | None = "train", crop: int = 128,
                 augment: bool = True, seed: int = 0, sharp_frames: float = 0.0):
        if not 0.0 <= sharp_frames <= 1.0:
            raise ValueError(f"sharp_frames is a probability, not {sharp_frames}")
        self.crop, self.augment, self.seed = crop, augment, seed
        self.sharp_frames = sharp_frames if augment else 0.0
        self.clips: list[Path] = dataset_clips(roots, split)
        self._arrays: dict[Path, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return 1 << 62  # an endless stream; the training loop decides how many samples it takes

    def load(self, clip: int) -> tuple[np.ndarray, np.ndarray]:
        """(blurry, sharp) of clip number ``clip``, memory-mapped."""
        path = self.clips[clip]
        if path not in self._arrays:
            self._arrays[path] = (np.load(path / "blurry.npy", mmap_mode="r"),
                                  np.load(path / "sharp.npy", mmap_mode="r"))
        return self._arrays[path]

    def plan(self, i: int) -> Crop:
        """The random choices behind sample ``i``."""
        rng = np.random.default_rng([self.seed, i])
        clip = int(rng.integers(len(self.clips)))
        t, h, w = self.load(clip)[1].shape[:3]
        k = int(rng.integers(t))
        c = self.crop
        if self.augment:
            scale = rng.choice([s for s in SCALES if min(h, w) * s >= c] or [1.0])
        else:
            scale = 1.0
        span = min(int(np.ceil(c / scale)), h, w)
        y0 = int(rng.integers(h - span + 1)) if self.augment else (h - span) // 2
        x0 = int(rng.integers(w - span + 1)) if self.augment else (w - span) // 2
        rot = int(rng.integers(4)) if self.augment else 0
        flip = bool(rng.random() < 0.5) if self.augment else False
        # Drawn last, so that without lucky frames the other choices stay those of earlier runs.
        sharp = tuple(map(bool, rng.random(FRAMES) < self.sharp_frames)) if self.sharp_frames else (False,) * FRAMES
        return Crop(clip, k, span, y0, x0, rot, flip, sharp)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.plan(i)
        x = cut(p, *self.load(p.clip), self.crop)
        return x[:3 * FRAMES], x[3 * FRAMES:]


class DeviceBatches:
    """The batches of ``ClipDataset`` cut on the GPU from clips held there (uint8).

    The same samples as the ``DataLoader`` path (one ``cut`` for both), but no CPU worker in the way: on
    a GPU the loader, not the network, sets the pace of DBN training. A folder listed twice (to weigh it
    up) is held once.
    """

    def __init__(self, data: ClipDataset, device: torch.device):
        self.data, self.device = data, device
        held: dict[Path, tuple[torch.Tensor, torch.Tensor]] = {}
        for n, path in enumerate(data.clips):
            if path not in held:
                held[path] = tuple(torch.from_numpy(np.array(a)).to(device) for a in data.load(n))
        self.clips = [held[path] for path in data.clips]

    def __call__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = torch.stack([cut(p, *self.clips[p.clip], self.data.crop) for p in map(self.data.plan, indices)])
        return batch[:, :3 * FRAMES], batch[:, 3 * FRAMES:]
