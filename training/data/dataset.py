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
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from vs_dvd.network import FRAMES

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
    """Record what the dataset holds (clips with their split, plus ``info``) in ``manifest.json``."""
    root = Path(root)
    clips = {d.name: json.loads((d / "meta.json").read_text())
             for d in sorted(root.iterdir()) if has_clip(root, d.name)}
    manifest = {"format": 1, **info, "clips": clips}
    tmp = root / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, root / "manifest.json")
    return manifest


def window(k: int, length: int) -> list[int]:
    """Indices of the five frames around k, the clip's ends repeated (as the plugin does)."""
    half = FRAMES // 2
    return [min(max(i, 0), length - 1) for i in range(k - half, k + half + 1)]


class ClipDataset(Dataset):
    """Random training samples: (15 x c x c blurry window, 3 x c x c sharp centre), float32 in [0, 1].

    Item ``i`` is a pure function of (seed, i): the data position is just the sample counter, so a
    resumed run sees the same samples as an uninterrupted one, however many loader workers run.
    ``augment=False`` gives centred crops at scale 1 without flips, for validation.
    """

    def __init__(self, roots: list[Path], split: str | None = "train", crop: int = 128,
                 augment: bool = True, seed: int = 0):
        self.crop, self.augment, self.seed = crop, augment, seed
        self.clips: list[Path] = []
        for root in map(Path, roots):
            manifest = json.loads((root / "manifest.json").read_text())
            self.clips += [root / name for name, meta in manifest["clips"].items()
                           if split is None or meta.get("split", "train") == split]
        if not self.clips:
            raise ValueError(f"no {split!r} clips in {', '.join(map(str, roots))}")
        self._arrays: dict[Path, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return 1 << 62  # an endless stream; the training loop decides how many samples it takes

    def _load(self, clip: Path) -> tuple[np.ndarray, np.ndarray]:
        if clip not in self._arrays:
            self._arrays[clip] = (np.load(clip / "blurry.npy", mmap_mode="r"),
                                  np.load(clip / "sharp.npy", mmap_mode="r"))
        return self._arrays[clip]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, i])
        blurry, sharp = self._load(self.clips[rng.integers(len(self.clips))])
        t, h, w = sharp.shape[:3]
        k = int(rng.integers(t))
        c = self.crop
        if self.augment:
            scale = rng.choice([s for s in SCALES if min(h, w) * s >= c] or [1.0])
        else:
            scale = 1.0
        span = min(int(np.ceil(c / scale)), h, w)
        y0 = int(rng.integers(h - span + 1)) if self.augment else (h - span) // 2
        x0 = int(rng.integers(w - span + 1)) if self.augment else (w - span) // 2
        frames = [blurry[j, y0:y0 + span, x0:x0 + span] for j in window(k, t)]
        frames.append(sharp[k, y0:y0 + span, x0:x0 + span])
        stack = np.concatenate(frames, axis=-1)  # span x span x 18
        if span != c:
            stack = cv2.resize(stack, (c, c), interpolation=cv2.INTER_AREA)
        if self.augment:
            stack = np.rot90(stack, int(rng.integers(4)))
            if rng.random() < 0.5:
                stack = stack[:, ::-1]
        x = torch.from_numpy(np.ascontiguousarray(stack.transpose(2, 0, 1))).float().div_(255.0)
        return x[:3 * FRAMES], x[3 * FRAMES:]
