"""The DVD dataset of Su et al. (real 240-fps footage, averaged) -> dataset clips.

Layout read: ``quantitative_datasets/<video>/{input,GT}/*.jpg`` (ROOT may be that folder or the one
holding it); input frame k is the blurry version of GT frame k, paired by file name. The authors'
ten test videos become split ``val``, the other 61 ``train``. Rerunning resumes (see clips.py).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.data.clips import write_clips
from training.data.dataset import write_manifest
from training.data.sources import image_files, read_image

log = logging.getLogger(__name__)

TEST_VIDEOS = ("IMG_0030", "IMG_0049", "IMG_0021", "720p_240fps_2", "IMG_0032", "IMG_0033", "IMG_0031",
               "IMG_0003", "IMG_0039", "IMG_0037")


def videos(root: Path) -> dict[str, Path]:
    """{video name: folder} of every video with ``input`` and ``GT`` folders."""
    root = Path(root)
    base = root / "quantitative_datasets" if (root / "quantitative_datasets").is_dir() else root
    found = {d.name: d for d in sorted(base.iterdir()) if (d / "input").is_dir() and (d / "GT").is_dir()} \
        if base.is_dir() else {}
    if not found:
        raise ValueError(f"{root}: no quantitative_datasets/<video>/input and GT folders found; pass the "
                         "unpacked DeepVideoDeblurring_Dataset folder (or its quantitative_datasets)")
    return found


def pairs(video: Path, max_side: int | None = None):
    """(blurry, sharp) per frame name in natural order; None (a break) where either is missing or unreadable."""
    sharp_files = {p.name: p for p in image_files(video / "GT")}
    for blurry_file in image_files(video / "input"):
        sharp_file = sharp_files.get(blurry_file.name)
        if sharp_file is None:
            log.warning("%s has no GT frame: skipped", blurry_file)
            yield None
            continue
        blurry, sharp = read_image(blurry_file, max_side), read_image(sharp_file, max_side)
        if blurry is None or sharp is None or blurry.shape != sharp.shape:
            if blurry is not None and sharp is not None:
                log.warning("%s and %s differ in size: skipped", blurry_file, sharp_file)
            yield None
            continue
        yield blurry, sharp


def convert(root: Path, out: Path, max_side: int | None = None, names: list[str] | None = None,
            chunk: int = 100) -> dict:
    """Write the DVD videos (all, or ``names``) as clips of dataset ``out``; returns the manifest info."""
    found = videos(root)
    unknown = sorted(set(names or ()) - set(found))
    if unknown:
        raise ValueError(f"videos {unknown} are not in {root}; it holds {', '.join(found)}")
    chosen = {n: found[n] for n in names} if names else found
    skipped = 0
    for name, folder in tqdm(chosen.items(), desc="DVD videos", unit="video"):
        meta = {"kind": "dvd", "source": name, "split": _split(name)}
        skipped += write_clips(pairs(folder, max_side), _same, out, name, meta, chunk)
    info = {"kind": "dvd", "root": str(root), "max_side": max_side, "chunk": chunk, "skipped_files": skipped,
            "sources": [{"name": n, "split": _split(n)} for n in chosen]}
    write_manifest(out, info)
    return info


def _split(name: str) -> str:
    """The authors' test videos are the validation split."""
    return "val" if name in TEST_VIDEOS else "train"


def _same(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return pair


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.data.dvd",
        description="Convert the DVD dataset (Su et al. 2017) into training clips; its ten test videos become "
                    "split val. Rerunning resumes.")
    parser.add_argument("root", type=Path, help="the unpacked DeepVideoDeblurring_Dataset (or its quantitative_datasets)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="dataset folder to write (or resume)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="downscale frames so the longer side is at most this many pixels")
    parser.add_argument("--videos", nargs="+", metavar="NAME", help="only these videos (default: all)")
    parser.add_argument("--chunk", type=int, default=100, help="frames per clip; 0 = one clip per video")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        info = convert(args.root, args.out, args.max_side, args.videos, args.chunk)
    except ValueError as e:
        parser.error(str(e))
    log.info("wrote %s (%d breaks at unreadable or unpaired frames)", args.out, info["skipped_files"])


if __name__ == "__main__":
    main()
