"""Footage at an ordinary frame rate + a virtual hand-held camera -> blurry/sharp clips.

Su et al. averaged real 240-fps hand-held footage; ordinary 20-30 fps clips lack both the frames
and, often, the shake. Each source is densified to 8 times its frame rate with optical-flow
in-betweens (``footage``'s DIS interpolation), a hand-held camera shakes while each frame is
exposed (a path of one of ``motion``'s families, ``photos``' renderer), and the virtual frames of the
exposure centred on each source frame are averaged (``photos.expose``: linear light or sRGB, noise,
compression): that is the blurry frame. Its sharp frame is the source frame itself, seen by the camera
at rest. Each exposure gets its own path, drawn from the source's name, the seed and the frame's index
(so a resumed run draws the same), centred on its sharp frame: the sharp clip is the steady source and
only the blur changes from frame to frame. Unlike photos, the scene itself moves as real scenes do.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import chain, groupby, islice
from pathlib import Path

import numpy as np

from training.data.clips import write_sources
from training.data.footage import Blur, in_between, windows
from training.data import motion
from training.data.motion import Shake
from training.data.photos import STEP, expose, finish, srgb_to_linear
from training.data.sources import frames as source_frames
from vs_dvd.basics import MULTIPLE  # view sizes the network takes without padding

log = logging.getLogger(__name__)

VIEW_SHARE = 5 / 6  # of each side, what the camera sees: the rest is room for the shake


@dataclass(frozen=True)
class Camera:
    """How the virtual hand-held camera shakes (``motion.Shake``), drawn afresh for each exposure from
    ``seed``, the source's name and the frame's index."""

    shake: Shake = Shake()
    seed: int = 0


LONGEST = max(motion.EXPOSURES)  # virtual frames kept around each source frame: any exposure fits


def view_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) of the shaking camera's view of a height x width source frame."""
    h, w = (int(side * VIEW_SHARE) // MULTIPLE * MULTIPLE for side in (height, width))
    if min(h, w) < MULTIPLE:
        raise ValueError(f"a {width}x{height} source is too small to shake; use one of at least "
                         f"{round(MULTIPLE / VIEW_SHARE) + 1} pixels a side")
    return h, w


def densify(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """uint8 sRGB frames -> linear-light float32 frames at STEP times the rate: each source frame
    is followed by STEP - 1 optical-flow in-betweens towards the next."""
    previous = None
    for frame in frames:
        values = srgb_to_linear(frame.astype(np.float32) / np.float32(255)).astype(np.float32)
        if previous is not None:
            yield from in_between(previous[0], frame, STEP - 1, previous[1], values)
        yield values
        previous = frame, values


def exposures(frames: Iterable[np.ndarray | None]) -> Iterator[list[np.ndarray] | None]:
    """The LONGEST virtual frames centred on each source frame but the first and the last of each
    unbroken run; ``None`` (a break: an unreadable frame) passes through."""
    for is_break, run in groupby(frames, key=lambda frame: frame is None):
        if is_break:
            yield from run
            continue
        first = next(run)
        view_size(*first.shape[:2])  # refuse a source too small before any optical flow
        dense = densify(chain([first], run))  # the first window centres on the run's second frame
        yield from windows(islice(dense, STEP - LONGEST // 2, None), Blur(stride=STEP, window=LONGEST))


def numbered(items: Iterable[list[np.ndarray] | None]) -> Iterator[tuple[int, list[np.ndarray]] | None]:
    """(index, exposure) for each exposure, counting across breaks, which pass through."""
    index = 0
    for item in items:
        if item is None:
            yield None
            continue
        yield index, item
        index += 1


def shake(exposure: list[np.ndarray], camera: Shake, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """The LONGEST virtual frames around one source frame through a shaking camera -> (blurry, sharp)
    H x W x 3 uint8, H x W the view size, and the shake's parameters."""
    height, width = exposure[0].shape[:2]
    view_h, view_w = view_size(height, width)
    side = max(view_h, view_w)  # render makes square views: crop the middle of one
    centre = (width // 2, height // 2)  # whole pixels: the camera at rest copies pixels exactly
    longest = max(camera.exposures)  # the path spans the longest exposure drawn from, as photos' do
    path, params = motion.draw(camera, longest, (view_w / 2, view_h / 2), rng)
    middle = LONGEST // 2
    scene = lambda t: exposure[middle + int(np.rint(t))]  # the scene moves at the virtual frame rate
    blurry, sharp = expose(scene, path, longest // 2, params, side, centre)
    top, left = (side - view_h) // 2, (side - view_w) // 2
    crop = (slice(top, top + view_h), slice(left, left + view_w))
    blurry, sharp = finish(blurry[crop], sharp[crop], params, rng)
    return blurry, sharp, params


Sample = tuple[np.ndarray, np.ndarray, dict]


def shaker(camera: Camera, name: str = "") -> Callable[[tuple[int, list[np.ndarray]]], Sample]:
    """(index, exposure) -> (blurry, sharp, parameters), the shake drawn from the seed, ``name`` and index alone."""
    def make(item: tuple[int, list[np.ndarray]]) -> Sample:
        index, exposure = item
        return shake(exposure, camera.shake, np.random.default_rng([camera.seed, index, *name.encode()]))
    return make


def blur(frames: Iterable[np.ndarray], camera: Camera) -> Iterator[Sample]:
    """(blurry, sharp, parameters) for each source frame but the first and last (frames without breaks)."""
    return map(shaker(camera), numbered(exposures(frames)))


def synthesise(sources: list[Path], out: Path, camera: Camera = Camera(), chunk: int = 50, split: str = "train",
               max_side: int | None = None, licence: str = "unknown") -> dict:
    """Synthesise every source into dataset ``out`` and write its manifest; returns the manifest info."""
    def stream(source: Path, name: str):
        return numbered(exposures(source_frames(source, max_side))), shaker(camera, name)
    return write_sources(sources, out, "handheld", {"camera": asdict(camera)}, stream, chunk, split, max_side,
                         licence)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.data.handheld",
        description="Shake a virtual hand-held camera over ordinary-frame-rate footage (densified 8x by optical "
                    "flow) into blurry/sharp training clips. Rerunning resumes: finished clips are kept.")
    parser.add_argument("sources", nargs="*", type=Path, metavar="SRC",
                        help="a video file (anything FFmpeg decodes) or a folder of frames in name order "
                             "(default: the clips of training.corpus, downloaded if needed)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="dataset folder to write (or resume)")
    motion.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=50,
                        help="output frames per clip; 0 = one clip per source (default %(default)s)")
    parser.add_argument("--max-side", type=int, default=None,
                        help="downscale frames so the longer side is at most this many pixels")
    parser.add_argument("--split", choices=("train", "val"),
                        help="with SRC: the split to record (default train); without: synthesise only the "
                             "corpus clips of this split (default both)")
    parser.add_argument("--licence", default="unknown", help="with SRC: licence of the footage, for the manifest")
    parser.add_argument("--clips", nargs="+", metavar="NAME",
                        help="without SRC: only these corpus clips (default: every one of the split)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    for s in args.sources:
        if not s.exists():
            parser.error(f"source {s} does not exist: pass a video file or a folder of frames")
    if args.sources and args.clips:
        parser.error("--clips picks corpus clips: pass either SRC files or --clips, not both")
    if args.sources:
        runs = {(args.split or "train", args.licence): args.sources}
    else:
        from training.corpus import gather
        corpus = [c for c in gather() if c.kind == "clip" and args.split in (None, c.split)]
        unknown = set(args.clips or ()) - {c.name for c in corpus}
        if unknown:
            parser.error(f"no corpus clip {', '.join(sorted(unknown))}"
                         f"{' in split ' + args.split if args.split else ''} (python -m training.corpus lists them)")
        runs = {}
        for c in corpus:
            if not args.clips or c.name in args.clips:
                runs.setdefault((c.split, c.licence), []).append(Path(c.path))
        if not runs:
            parser.error("no corpus clips could be fetched (see the warnings above): pass SRC files instead")
    try:
        camera = Camera(motion.from_arguments(args), args.seed)
        breaks = sum(synthesise(sources, args.out, camera, args.chunk, split, args.max_side, licence)["skipped_files"]
                     for (split, licence), sources in runs.items())
    except ValueError as e:
        parser.error(str(e))
    log.info("wrote %s (%d breaks: unreadable frames, changes of frame size, cuts)", args.out, breaks)


if __name__ == "__main__":
    main()
