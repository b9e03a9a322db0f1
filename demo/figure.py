"""README's before/after picture, remade with one command: ``python demo/figure.py``.

It runs the demo with its defaults (the sample clip blurred the paper's way, the bundled model on
``backend='cpu'``) into a temporary folder, crops one region of each panel of its side-by-side
picture (blurry | deblurred | sharp), labels the crops again and writes them as one small JPEG,
docs/images/demo.jpg. README quotes the demo's machine and PSNR lines, printed on the way, beside it.
"""
from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: make `demo` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import tempfile

import cv2
import numpy as np

from demo import run
from demo.render import ROOT
from demo.report import side_by_side, write_image

PICTURE = ROOT / "docs" / "images" / "demo.jpg"
# x, y, width, height in each 320x240 panel of the default run: walkers, a tripod, a signpost
BOX = (64, 56, 240, 176)


def crop(picture: np.ndarray, box: tuple[int, int, int, int] = BOX) -> np.ndarray:
    """The same ``(x, y, width, height)`` region of each of a side-by-side picture's three panels,
    side by side again and labelled; ValueError if the region is not inside a panel."""
    height, width = picture.shape[0], picture.shape[1] // 3
    x, y, w, h = box
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
        raise ValueError(f"crop {box} (x, y, width, height) does not fit in panels of {width}x{height}")
    panels = [picture[y:y + h, i * width + x:i * width + x + w] for i in range(3)]
    return side_by_side(*panels, labels=("blurry", "deblurred", "sharp"))


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="demo/figure.py", description=__doc__.split("\n\n")[1]).parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        if run.main(["--out", work]) != 0:
            return 1
        picture = cv2.cvtColor(cv2.imread(str(Path(work) / "side_by_side.png")), cv2.COLOR_BGR2RGB)
    write_image(crop(picture), PICTURE)
    print(f"wrote {PICTURE} ({PICTURE.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
