"""High-frame-rate footage -> blurry/sharp clips, the way Su et al. built their training set.

Every 8th frame of 240-fps footage is a sharp target and the average of the 7 frames centred on it
is its blurry input: a 30-fps clip whose exposure spans 7/8 of the frame interval. Two options
make the blur more like a real exposure: ``interpolate`` inserts optical-flow (OpenCV DIS)
frames between neighbours so fast motion smears instead of ghosting, and ``linear`` averages
light rather than sRGB code values. Frames are streamed, so long videos never sit in memory.
"""
from __future__ import annotations

import argparse
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from training.data.clips import write_sources
from training.data.photos import EXPOSURE, STEP, linear_to_srgb, srgb_to_linear
from training.data.sources import frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Blur:
    """How source frames become one blurry frame."""

    stride: int = STEP        # source frames per output frame (240 fps -> 30 fps)
    window: int = EXPOSURE    # source frames averaged, centred on the sharp target
    interpolate: int = 0      # flow-interpolated frames inserted between each pair of neighbours
    linear: bool = False      # average in linear light instead of sRGB code values

    def __post_init__(self) -> None:
        if self.stride < 1 or self.window < 1 or self.window % 2 == 0 or self.interpolate < 0:
            raise ValueError(f"{self}: stride and window must be positive, window odd, interpolate >= 0")


def windows(sequence: Iterable[np.ndarray | None], blur: Blur) -> Iterator[list[np.ndarray] | None]:
    """Each run of ``blur.window`` frames centred on a target; ``None`` passes through and restarts the count."""
    buf: deque[np.ndarray] = deque(maxlen=blur.window)
    seen = 0
    for frame in sequence:
        if frame is None:
            buf.clear()
            seen = 0
            yield None
            continue
        buf.append(frame)
        seen += 1
        if seen >= blur.window and (seen - blur.window) % blur.stride == 0:
            yield list(buf)


def _warp(image: np.ndarray, flow: np.ndarray, t: float) -> np.ndarray:
    """Sample ``image`` at x - t * flow(x): where content at time t came from."""
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    pos = grid - t * flow
    return cv2.remap(image, pos[..., 0], pos[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def in_between(a: np.ndarray, b: np.ndarray, count: int, a_values: np.ndarray | None = None,
               b_values: np.ndarray | None = None) -> list[np.ndarray]:
    """``count`` frames evenly spaced in time strictly between uint8 frames ``a`` and ``b``.

    Flow is measured on ``a`` and ``b``; the warped pixels are ``a_values`` / ``b_values`` (float,
    e.g. linear light) when given. Each frame blends both neighbours warped along the flow.
    """
    a_values = a.astype(np.float32) if a_values is None else a_values
    b_values = b.astype(np.float32) if b_values is None else b_values
    ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ab, ba = dis.calc(ga, gb, None), dis.calc(gb, ga, None)
    out = []
    for i in range(1, count + 1):
        t = i / (count + 1)
        out.append((1 - t) * _warp(a_values, ab, t) + t * _warp(b_values, ba, 1 - t))
    return out


def _values(frame: np.ndarray, linear: bool) -> np.ndarray:
    """uint8 sRGB -> float32 in [0, 1], in linear light if asked."""
    values = frame.astype(np.float32) / np.float32(255.0)
    return srgb_to_linear(values).astype(np.float32) if linear else values


def blur_window(window: list[np.ndarray], blur: Blur) -> tuple[np.ndarray, np.ndarray]:
    """(blurry, sharp) uint8 from one window of uint8 frames: the average, and the centre frame."""
    values = [_values(f, blur.linear) for f in window]
    total = np.sum(values, axis=0)
    count = len(window)
    if blur.interpolate:
        for i in range(len(window) - 1):
            total += np.sum(in_between(window[i], window[i + 1], blur.interpolate, values[i], values[i + 1]), axis=0)
        count += blur.interpolate * (len(window) - 1)
    mean = total / count
    if blur.linear:
        mean = linear_to_srgb(mean)
    blurry = np.clip(np.rint(mean * 255.0), 0, 255).astype(np.uint8)
    return blurry, window[len(window) // 2]


def synthesise(sources: list[Path], out: Path, blur: Blur = Blur(), chunk: int = 100, split: str = "train",
               max_side: int | None = None, licence: str = "unknown") -> dict:
    """Synthesise every source into dataset ``out`` and write its manifest; returns the manifest info."""
    def stream(source: Path, name: str):
        return windows(frames(source, max_side), blur), partial(blur_window, blur=blur)
    return write_sources(sources, out, "footage", {"blur": asdict(blur)}, stream, chunk, split, max_side, licence)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.data.footage",
        description="Average high-frame-rate footage (240 fps) into blurry/sharp training clips. Rerunning "
                    "resumes: finished clips are kept.")
    parser.add_argument("sources", nargs="+", type=Path, metavar="SRC",
                        help="a video file (anything FFmpeg decodes) or a folder of frames in name order")
    parser.add_argument("-o", "--out", type=Path, required=True, help="dataset folder to write (or resume)")
    parser.add_argument("--stride", type=int, default=Blur.stride,
                        help="source frames per output frame: 8 turns 240 fps into 30 fps (default %(default)s)")
    parser.add_argument("--window", type=int, default=Blur.window,
                        help="odd number of source frames averaged into one blurry frame (default %(default)s)")
    parser.add_argument("--interpolate", type=int, default=0,
                        help="optical-flow frames inserted between neighbours before averaging, so fast "
                             "motion smears instead of ghosting (default %(default)s; 3 is plenty)")
    parser.add_argument("--linear", action="store_true", help="average in linear light instead of sRGB values")
    parser.add_argument("--chunk", type=int, default=100,
                        help="output frames per clip; 0 = one clip per source (default %(default)s)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="downscale frames so the longer side is at most this many pixels")
    parser.add_argument("--split", choices=("train", "val"), default="train",
                        help="split recorded for every clip of this run (default %(default)s)")
    parser.add_argument("--licence", default="unknown", help="licence of the footage, recorded in the manifest")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    for s in args.sources:
        if not s.exists():
            parser.error(f"source {s} does not exist: pass a video file or a folder of frames")
    try:
        blur = Blur(args.stride, args.window, args.interpolate, args.linear)
        info = synthesise(args.sources, args.out, blur, args.chunk, args.split, args.max_side, args.licence)
    except ValueError as e:
        parser.error(str(e))
    log.info("wrote %s (%d breaks: unreadable frames, changes of frame size, cuts)", args.out, info["skipped_files"])


if __name__ == "__main__":
    main()
