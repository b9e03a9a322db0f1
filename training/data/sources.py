"""Frames from a video file or a folder of images, for the synthesis modules.

A source never raises on bad media: an unreadable file or frame is logged and yields ``None``, a
break, so the clip being built ends there and synthesis goes on. A change of frame size is a
break too, and so is a cut between shots: optical flow across one would blend two scenes (a
false cut, at a fast whip pan, only costs the frames beside it). Frames are uint8 RGB H x W x 3,
optionally downscaled so the longer side is at most ``max_side``.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# A cut: consecutive frames whose 8-bit HSV channels change by more than this on average, the content
# measure and default threshold of PySceneDetect's ContentDetector; compared on thumbnails CUT_WIDTH
# wide, so that grain and compression noise do not count.
CUT_THRESHOLD = 27.0
CUT_WIDTH = 160
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def natural_key(path: Path) -> list:
    """Sort key that puts ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def image_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` in natural order (hidden files and other suffixes left out)."""
    files = [p for p in Path(folder).iterdir()
             if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=natural_key)


def downscale(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """``frame`` shrunk (area filter) so its longer side is at most ``max_side``; never enlarged."""
    h, w = frame.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def read_image(path: Path, max_side: int | None = None) -> np.ndarray | None:
    """One image as uint8 RGB, or None (logged) when it cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        log.warning("skipping unreadable image %s", path)
        return None
    return downscale(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), max_side)


def _video_frames(path: Path, max_side: int | None) -> Iterator[np.ndarray | None]:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        log.warning("skipping unreadable video %s: %s", path, e)
        yield None
        return
    with container:
        if not container.streams.video:
            log.warning("skipping %s: it has no video stream", path)
            yield None
            return
        packets = container.demux(container.streams.video[0])
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as e:  # a broken container: keep what came before
                log.warning("%s: unreadable from here on: %s", path, e)
                yield None
                return
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as e:  # a corrupt packet: the frames around it are still good
                log.warning("%s: undecodable packet at %s: %s", path, packet.pts, e)
                yield None
                continue
            for frame in decoded:
                yield downscale(frame.to_ndarray(format="rgb24"), max_side)


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """What cuts are found on: the frame CUT_WIDTH wide (never enlarged), in float32 8-bit HSV."""
    h, w = frame.shape[:2]
    size = (CUT_WIDTH, max(1, round(h * CUT_WIDTH / w))) if w > CUT_WIDTH else (w, h)
    return cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV).astype(np.float32)


def frames(source: Path, max_side: int | None = None) -> Iterator[np.ndarray | None]:
    """Every frame of a video, or of a folder of images in natural order; ``None`` marks a break."""
    source = Path(source)
    if source.is_dir():
        raw = (read_image(p, max_side) for p in image_files(source))
    else:
        raw = _video_frames(source, max_side)
    previous = shape = None  # the last frame's thumbnail and shape; None after a break (a new clip anyway)
    for index, frame in enumerate(raw):
        current = None if frame is None else _thumbnail(frame)  # once per frame, compared with both neighbours
        if current is not None and previous is not None:
            if frame.shape != shape:
                log.warning("%s: frame size changes from %s to %s; a new clip starts", source, shape, frame.shape)
                yield None
            elif (change := float(np.abs(current - previous).mean())) > CUT_THRESHOLD:
                log.info("%s: a cut before frame %d (content change %.1f); a new clip starts", source, index, change)
                yield None
        previous, shape = current, None if frame is None else frame.shape
        yield frame
