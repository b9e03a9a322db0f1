"""Still photographs -> virtual hand-held footage -> blurry/sharp clips (the paper's averaging).

A smooth random camera trajectory (translation, rotation, zoom) is sampled at a virtual 240 fps and
rendered with sub-pixel warps. As with real high-frame-rate footage, every 8th virtual frame is a
sharp target and the average of the 7 virtual frames centred on it is its blurry input, averaged in
linear light. A share of clips barely moves, so the model learns to leave sharp footage alone.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from training.data.dataset import has_clip, write_clip, write_manifest
from training.data.sources import read_image

log = logging.getLogger(__name__)

STEP = 8      # virtual frames per output frame (240 fps -> 30 fps)
EXPOSURE = 7  # virtual frames averaged into one blurry frame


@dataclass(frozen=True)
class ShakeConfig:
    frames: int = 9                 # output frames per clip
    size: int = 384                 # clip height and width
    static_share: float = 0.15      # clips with (almost) no motion
    max_speed: float = 4.0          # px per virtual frame at the strongest shake (~24 px blur)
    linear_light: bool = True


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def trajectory(n: int, speed: float, rng: np.random.Generator) -> np.ndarray:
    """n x 4 (dx, dy, angle, log-zoom) along a smooth path; RMS speed of dx/dy is ``speed`` px per step.

    A slow pan plus hand tremor: a few sinusoids between 0.5 and 10 Hz at 240 steps per second.
    """
    t = np.arange(n) / 240.0
    path = np.zeros((n, 4))
    for axis in range(4):
        for _ in range(4):
            f = rng.uniform(0.5, 10.0)
            path[:, axis] += rng.normal() / f * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        path[:, axis] += rng.normal() * t  # pan
    velocity = np.diff(path[:, :2], axis=0)
    rms = np.sqrt((velocity ** 2).sum(1).mean()) + 1e-12
    path[:, :2] *= speed / rms
    # Rotation and zoom move the frame's edges (~200 px from the centre) by up to half the translation.
    for axis in (2, 3):
        v = np.diff(path[:, axis])
        path[:, axis] *= rng.uniform(0.0, 0.5) * speed / (np.sqrt((v ** 2).mean()) + 1e-12) / 200.0
    return path - path[n // 2]


def draw_speed(max_speed: float, static_share: float, rng: np.random.Generator) -> float:
    """A shake speed: almost none for a ``static_share`` of draws, else 10-100 % of ``max_speed``."""
    static = rng.random() < static_share
    return rng.uniform(0.0, 0.05) if static else max_speed * rng.uniform(0.1, 1.0)


def render(photo: np.ndarray, path: np.ndarray, size: int, centre: tuple[float, float]) -> np.ndarray:
    """Warp ``photo`` (linear float32 HxWx3) along ``path`` -> len(path) x size x size x 3.

    Output pixel q samples the photo at centre + (dx, dy) + zoom * R(angle) (q - size / 2).
    """
    out = np.empty((len(path), size, size, 3), np.float32)
    half = np.array([size / 2, size / 2])
    for i, (dx, dy, angle, zoom) in enumerate(path):
        c, s = np.cos(angle) * np.exp(zoom), np.sin(angle) * np.exp(zoom)
        rot = np.array([[c, -s], [s, c]])
        shift = np.array(centre) + (dx, dy) - rot @ half
        m = np.hstack([rot, shift[:, None]])
        out[i] = cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0.0, 1.0, out=out)


def blur_sequence(virtual: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Virtual 240-fps frames -> (blurry, sharp) 30-fps frames: every 8th is sharp, 7 around it averaged."""
    half = EXPOSURE // 2
    centres = half + STEP * np.arange(frames)
    sharp = virtual[centres]
    blurry = np.stack([virtual[c - half:c + half + 1].mean(0) for c in centres])
    return blurry, sharp


def synthesise_clip(photo: np.ndarray, cfg: ShakeConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One clip from one sRGB photo (HxWx3 float32 in [0, 1]) -> uint8 (blurry, sharp), T x S x S x 3."""
    h, w = photo.shape[:2]
    size = min(cfg.size, h, w) // 8 * 8
    # The photo is seen at a random scale (a wide shot or a detail), never upscaled past 1.
    scale = rng.uniform(max(size / min(h, w), 0.25), 1.0)
    small = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    linear = srgb_to_linear(small) if cfg.linear_light else small
    sh, sw = small.shape[:2]
    centre = (rng.uniform(size / 2, sw - size / 2), rng.uniform(size / 2, sh - size / 2))
    speed = draw_speed(cfg.max_speed, cfg.static_share, rng)
    n = STEP * (cfg.frames - 1) + EXPOSURE
    virtual = render(linear.astype(np.float32), trajectory(n, speed, rng), size, centre)
    blurry, sharp = blur_sequence(virtual, cfg.frames)
    if cfg.linear_light:
        blurry, sharp = linear_to_srgb(blurry), linear_to_srgb(sharp)
    to8 = lambda x: np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    return to8(blurry), to8(sharp)


def read_photo(path: Path) -> np.ndarray | None:
    """sRGB float32 in [0, 1], or None (with a warning) when the file cannot be decoded."""
    image = read_image(path)
    return None if image is None else image.astype(np.float32) / 255.0


def synthesise(photos: list[tuple[str, Path, str]], out: Path, clips_per_photo: int,
               cfg: ShakeConfig = ShakeConfig(), seed: int = 0, sources: list[dict] | None = None) -> dict:
    """Write ``clips_per_photo`` clips per (name, path, split) photo to dataset ``out``; resumable."""
    unreadable: set[Path] = set()
    todo = [(name, path, split, i) for name, path, split in photos for i in range(clips_per_photo)]
    current = None
    for name, path, split, i in tqdm(todo, desc="photo clips", unit="clip"):
        clip = f"{name}-{i:04d}"
        if has_clip(out, clip):
            continue
        if current is None or current[0] != path:
            current = (path, read_photo(path))
        if current[1] is None:
            unreadable.add(path)
            continue
        rng = np.random.default_rng([seed, i, *name.encode()])
        blurry, sharp = synthesise_clip(current[1], cfg, rng)
        write_clip(out, clip, blurry, sharp, {"source": name, "split": split, "kind": "photo"})
    info = {"kind": "photos", "config": cfg.__dict__, "seed": seed, "skipped_files": len(unreadable),
            "sources": sources or [{"name": n, "path": str(p), "split": s} for n, p, s in photos]}
    write_manifest(out, info)
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Synthesise camera-shake clips from still photographs.")
    parser.add_argument("photos", nargs="*", type=Path,
                        help="image files (default: the corpus of training.corpus, downloaded if needed)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--clips-per-photo", type=int, default=40)
    parser.add_argument("--frames", type=int, default=ShakeConfig.frames, help="frames per clip")
    parser.add_argument("--size", type=int, default=ShakeConfig.size, help="clip size in px")
    parser.add_argument("--static-share", type=float, default=ShakeConfig.static_share)
    parser.add_argument("--max-speed", type=float, default=ShakeConfig.max_speed,
                        help="strongest shake, px per 1/240 s")
    parser.add_argument("--gamma-space", action="store_true", help="average in sRGB instead of linear light")
    parser.add_argument("--split", choices=("train", "val"),
                        help="with PHOTOS: the split to record (default train); without: synthesise only "
                             "the corpus photos of this split (default both)")
    parser.add_argument("--name", help="with one PHOTO: the name its clips (and their random draws) take "
                                       "instead of the file's stem, e.g. the corpus name of '2560x1440.jpg'")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.name and len(args.photos) != 1:
        parser.error("--name needs exactly one PHOTO")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    cfg = ShakeConfig(args.frames, args.size, args.static_share, args.max_speed, not args.gamma_space)
    if args.photos:
        photos = [(args.name or p.stem, p, args.split or "train") for p in args.photos]
        sources = None
    else:
        from dataclasses import asdict
        from training.corpus import gather
        corpus = [p for p in gather() if p.kind == "photo" and args.split in (None, p.split)]
        photos = [(p.name, Path(p.path), p.split) for p in corpus]
        sources = [asdict(p) for p in corpus]
    info = synthesise(photos, args.out, args.clips_per_photo, cfg, args.seed, sources)
    log.info("wrote %s (%d unreadable files skipped)", args.out, info["skipped_files"])


if __name__ == "__main__":
    main()
