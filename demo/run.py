"""``make demo``: real footage, blurred with ground truth, deblurred by ``core.dvd.Deblur``.

1. The sample: OpenCV's pedestrian clip ``vtest.avi`` from Debian's ``opencv-doc``, fetched once
   into ~/.cache/vs-dvd/demo (or any video with --video).
2. The paper's blur: the clip densified 8x by optical flow, a hand-held camera shaking during each
   exposure, 7 of every 8 virtual frames averaged; the source frames are the sharp ground truth.
3. ``vspipe -c y4m deblur.vpy - | ffmpeg``, the .vpy calling ``core.dvd.Deblur`` on the CPU with
   the bundled model (or --model): out/demo/deblurred.mp4.
4. The machine and PSNR lines, out/demo/side_by_side.png (a frame of median blur: blurry | deblurred | sharp)
   and out/demo/side_by_side.mp4 (the whole clip so).
"""
from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script, as `make demo` does: make `demo` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import tempfile
import time
from fractions import Fraction
from itertools import islice

import av
import numpy as np
import vapoursynth as vs
from tqdm import tqdm

from demo.render import ROOT, RenderError, deblur, encode
from demo.report import Scores, side_by_side, write_image
from demo.sample import CACHE, DESCRIPTION, SampleError, sample_clip
from training.data import sources
from training.data.handheld import Camera, blur
from training.data.motion import Shake
from vs_dvd import model as models
from vs_dvd.hardware import machine_line


def read_clip(video: Path, start: int, count: int, max_side: int) -> tuple[list[np.ndarray], Fraction]:
    """``count`` RGB frames from frame ``start`` on, the longer side at most ``max_side``; and the
    frame rate."""
    try:
        with av.open(str(video)) as container:
            rate = container.streams.video[0].average_rate
    except (av.error.FFmpegError, OSError, IndexError) as e:
        raise ValueError(f"{video} is not a readable video ({e}); pass another --video") from None
    frames = list(islice(sources.frames(video, max_side), start, start + count))
    if len(frames) < count or any(f is None for f in frames):
        raise ValueError(f"{video} has fewer than {count} readable frames from frame {start} on; "
                         "pass a smaller --start or --frames, or another --video")
    return frames, Fraction(rate) if rate else Fraction(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo/run.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--video", type=Path, help=f"footage to use instead of {DESCRIPTION}")
    parser.add_argument("--start", type=int, default=580, help="first source frame (default %(default)s)")
    parser.add_argument("--frames", type=int, default=30,
                        help="frames to deblur (default %(default)s: 3 s of the sample)")
    parser.add_argument("--size", type=int, default=384,
                        help="longer side of the source after downscaling; the shaking camera sees "
                             "the middle 5/6 of it (default %(default)s: a 320x240 clip)")
    parser.add_argument("--shake", type=float, default=2.0,
                        help="strongest shake, px per virtual frame (1/8 frame); each frame draws "
                             "10-100%% of it (default %(default)s; training goes up to "
                             f"{Shake.max_speed:g})")
    parser.add_argument("--seed", type=int, default=0, help="of the shake (default %(default)s)")
    parser.add_argument("--model", type=Path, help="ONNX model (default: the bundled one)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo",
                        help="output folder (default %(default)s)")
    args = parser.parse_args(argv)
    if args.start < 0 or args.frames < 1 or args.size < 16 or args.shake < 0:
        parser.error("--start must be >= 0, --frames >= 1, --size >= 16 and --shake >= 0")
    began = time.monotonic()

    def step(text: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {text}", flush=True)

    try:
        if args.video is None:
            step(f"1/4 sample clip: {DESCRIPTION}; fetched once (a 95 MB package) into {CACHE}")
            video = sample_clip()
        else:
            video = args.video
            step(f"1/4 sample clip: {video}")
        frames, fps = read_clip(video, args.start, args.frames + 2, args.size)

        step(f"2/4 blurring {args.frames} frames the paper's way: 8x optical-flow frames, hand shake "
             f"up to {args.shake:g} px per virtual frame, 7 of every 8 averaged")
        camera = Camera(Shake(max_speed=args.shake, static_share=0.0), args.seed)
        pairs = list(tqdm(blur(frames, camera), total=args.frames, unit="frame"))
        blurry, sharp = (np.stack(clip) for clip in list(zip(*pairs))[:2])

        step(f"3/4 deblurring {blurry.shape[2]}x{blurry.shape[1]} at {fps} fps: vspipe -c y4m "
             f"deblur.vpy - | ffmpeg, core.dvd.Deblur(backend='cpu'), model "
             f"{models.load(args.model).describe()}")
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as work:
            deblurred = deblur(blurry, fps, args.out / "deblurred.mp4", Path(work), args.model)

        step("4/4 scoring and picturing")
        scores = Scores.of(blurry, deblurred, sharp)
        n = scores.typical()
        labels = (f"blurry {scores.blurry[n]:.1f} dB", f"deblurred {scores.deblurred[n]:.1f} dB", "sharp")
        write_image(side_by_side(blurry[n], deblurred[n], sharp[n], labels), args.out / "side_by_side.png")
        encode(np.concatenate([blurry, deblurred, sharp], axis=2), fps, args.out / "side_by_side.mp4")
    except (SampleError, RenderError, ValueError, vs.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    step(f"done: {args.out / 'deblurred.mp4'}, {args.out / 'side_by_side.mp4'} (blurry | deblurred "
         f"| sharp) and {args.out / 'side_by_side.png'} (frame {n}, of median blur)")
    print(f"machine: {machine_line()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(scores.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
