"""Still photographs -> virtual hand-held footage -> blurry/sharp clips (the paper's averaging).

A camera path of one of ``motion``'s families (tremor, jolts, walking, rotation, zoom) is sampled at a
virtual 240 fps and rendered with sub-pixel perspective warps. As with real high-frame-rate footage,
every ``step``-th virtual frame is a sharp target and the average of the ``exposure`` virtual frames
centred on it is its blurry input, averaged in linear light or in sRGB, then optionally given sensor
noise and H.264 compression. A share of clips barely moves, so the model learns to leave sharp footage
alone. The defaults reproduce earlier releases: tremor only, 7 of every 8 frames, linear light.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from training.data import degrade, motion
from training.data.dataset import has_clip, write_clip, write_manifest
from training.data.motion import Shake
from training.data.sources import read_image

log = logging.getLogger(__name__)

STEP = 8      # virtual frames per output frame (240 fps -> 30 fps)
EXPOSURE = 7  # virtual frames averaged into one blurry frame


@dataclass(frozen=True)
class ShakeConfig:
    frames: int = 9                 # output frames per clip
    size: int = 384                 # clip height and width
    shake: Shake = Shake()          # camera paths, exposures, blur lengths, averaging domain, degradation


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def render(photo: np.ndarray, maps: np.ndarray, size: int, centre: tuple[float, float]) -> np.ndarray:
    """Warp ``photo`` (linear float32 HxWx3) through each of ``maps`` -> len(maps) x size x size x 3.

    Output pixel q samples the photo at centre + map (q - size / 2) (``motion.homographies``).
    """
    out = np.empty((len(maps), size, size, 3), np.float32)
    to_centre = np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1]])
    from_view = np.array([[1, 0, -size / 2], [0, 1, -size / 2], [0, 0, 1]])
    for i, m in enumerate(maps):
        out[i] = cv2.warpPerspective(photo, to_centre @ m @ from_view, (size, size),
                                     flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0.0, 1.0, out=out)


def step_for(exposure: int) -> int:
    """Virtual frames per output frame: 240 fps -> 30 fps, slower when the exposure needs more time."""
    return max(STEP, exposure + 1)


def exposure_times(params: dict) -> np.ndarray:
    """Virtual-frame times, relative to the sharp frame, of the poses one exposure averages."""
    exposure, substeps = params.get("exposure", EXPOSURE), params.get("substeps", 1)
    return np.arange((exposure - 1) * substeps + 1) / substeps - (exposure - 1) / 2


def expose(scene: Callable[[float], np.ndarray], path: np.ndarray, centre_time: int, params: dict, size: int,
           centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(blurry, sharp) linear light, size x size x 3: ``scene(t)`` (linear, the scene at time t relative to
    the sharp frame) seen along ``path`` during the exposure centred on ``centre_time``, averaged in linear
    light or, with ``params["gamma"]``, in sRGB."""
    focal = params.get("focal", 1.0)
    view = lambda t: render(scene(t), motion.homographies(motion.at(path, centre_time + t)[None], focal), size, centre)[0]
    total = np.zeros((size, size, 3), np.float64)
    times = exposure_times(params)
    for t in times:
        total += linear_to_srgb(view(t)) if params.get("gamma") else view(t)
    blurry = (total / len(times)).astype(np.float32)
    return (srgb_to_linear(blurry) if params.get("gamma") else blurry), view(0.0)


def finish(blurry: np.ndarray, sharp: np.ndarray, params: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Linear-light (blurry, sharp) -> uint8 sRGB, the blurry ones given the draw's noise and compression."""
    if "shot" in params:
        blurry = degrade.noise(blurry, params["shot"], params["read"], rng)
    blurry, sharp = to_uint8(linear_to_srgb(blurry)), to_uint8(linear_to_srgb(sharp))
    if "crf" in params:
        blurry = np.stack([degrade.compress(frame, params["crf"]) for frame in blurry.reshape(-1, *blurry.shape[-3:])]
                          ).reshape(blurry.shape)
    return blurry, sharp


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def synthesise_clip(photo: np.ndarray, cfg: ShakeConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """One clip from one sRGB photo (HxWx3 float32 in [0, 1]) -> uint8 (blurry, sharp), T x S x S x 3, and
    the shake's parameters."""
    h, w = photo.shape[:2]
    size = min(cfg.size, h, w) // 8 * 8
    # The photo is seen at a random scale (a wide shot or a detail), never upscaled past 1.
    scale = rng.uniform(max(size / min(h, w), 0.25), 1.0)
    small = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    centre = (rng.uniform(size / 2, sw - size / 2), rng.uniform(size / 2, sh - size / 2))
    longest = max(cfg.shake.exposures)
    n = step_for(longest) * (cfg.frames - 1) + longest
    path, params = motion.draw(cfg.shake, n, (size / 2, size / 2), rng)
    exposure = params.get("exposure", EXPOSURE)
    step, span = step_for(exposure), step_for(exposure) * (cfg.frames - 1) + exposure
    first = (n - span) // 2 + exposure // 2  # the clip sits in the middle of the path, where it is centred
    linear = srgb_to_linear(small).astype(np.float32)
    pairs = [expose(lambda t: linear, path, first + step * k, params, size, centre) for k in range(cfg.frames)]
    blurry, sharp = (np.stack(x) for x in zip(*pairs))
    return *finish(blurry, sharp, params, rng), params


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
        blurry, sharp, shake = synthesise_clip(current[1], cfg, rng)
        write_clip(out, clip, blurry, sharp, {"source": name, "split": split, "kind": "photo", "shake": shake})
    info = {"kind": "photos", "config": asdict(cfg), "seed": seed, "skipped_files": len(unreadable),
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
    motion.add_arguments(parser)
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
    try:
        cfg = ShakeConfig(args.frames, args.size, motion.from_arguments(args))
    except ValueError as e:
        parser.error(str(e))
    if args.photos:
        photos = [(args.name or p.stem, p, args.split or "train") for p in args.photos]
        sources = None
    else:
        from training.corpus import gather
        corpus = [p for p in gather() if p.kind == "photo" and args.split in (None, p.split)]
        photos = [(p.name, Path(p.path), p.split) for p in corpus]
        sources = [asdict(p) for p in corpus]
    info = synthesise(photos, args.out, args.clips_per_photo, cfg, args.seed, sources)
    log.info("wrote %s (%d unreadable files skipped)", args.out, info["skipped_files"])


if __name__ == "__main__":
    main()
