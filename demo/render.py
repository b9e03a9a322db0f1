"""Deblurring the way users do: a .vpy calling ``core.dvd.Deblur``, run by ``vspipe -c y4m | ffmpeg``.

The .vpy reads the blurry frames from a lossless .npy file. H.264 video is lossy, so the script
also keeps every deblurred frame exactly as Deblur returned it (RGB24) in a second .npy: the
frames the PSNR is measured on.
"""
from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import vapoursynth as vs

from demo.vspipe import VSPIPE, environment

ROOT = Path(__file__).resolve().parents[1]
# H.264 that every player shows, tagged BT.709 as the frames are converted.
H264 = ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-movflags", "+faststart"]


class RenderError(RuntimeError):
    """vspipe or ffmpeg failed; the message says which and what to do."""


def source(frames: np.ndarray, fps: Fraction) -> vs.VideoNode:
    """T x H x W x 3 uint8 RGB frames as an RGB24 clip."""
    count, height, width = frames.shape[:3]
    blank = vs.core.std.BlankClip(format=vs.RGB24, width=width, height=height, length=count,
                                  fpsnum=fps.numerator, fpsden=fps.denominator)

    def paint(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = frames[n, :, :, p]
        return out

    return blank.std.ModifyFrame(blank, paint)


def script_clip(blurry: Path, deblurred: Path, fps: Fraction, model: str | None) -> vs.VideoNode:
    """What the .vpy outputs: the blurry frames deblurred on the CPU, as BT.709 YUV420P8 for y4m.
    Each deblurred frame is also written to ``deblurred`` (a T x H x W x 3 uint8 .npy) as rendered."""
    frames = np.load(blurry, mmap_mode="r")
    kept = np.lib.format.open_memmap(deblurred, mode="w+", dtype=np.uint8, shape=frames.shape)
    clip = vs.core.dvd.Deblur(source(frames, fps), model=model, backend="cpu")

    def keep(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        for p in range(3):
            kept[n, :, :, p] = np.asarray(f[p])
        return f

    return clip.std.ModifyFrame(clip, keep).resize.Bicubic(format=vs.YUV420P8, matrix=1)


def deblur(blurry: np.ndarray, fps: Fraction, video: Path, work: Path, model: Path | None = None,
           progress: bool = True) -> np.ndarray:
    """Deblur T x H x W x 3 uint8 frames through vspipe and ffmpeg into the H.264 ``video``;
    returns the deblurred frames. ``work`` holds the script and its .npy files."""
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / "blurry.npy", blurry)
    script = work / "deblur.vpy"
    script.write_text("\n".join([
        "# Written by demo/render.py: the blurry demo clip through core.dvd.Deblur.",
        "import sys",
        f"sys.path.insert(0, {str(ROOT)!r})",
        "from fractions import Fraction",
        "from demo.render import script_clip",
        f"clip = script_clip({str(work / 'blurry.npy')!r}, {str(work / 'deblurred.npy')!r}, "
        f"Fraction({str(fps)!r}), {str(model) if model else None!r})",
        "clip.set_output()", ""]))
    env = environment(work / "config")
    vspipe_args = [str(VSPIPE), "-c", "y4m", *(["-p"] if progress else []), str(script), "-"]
    with subprocess.Popen(vspipe_args, stdout=subprocess.PIPE, env=env) as vspipe:
        encoded = subprocess.run([_ffmpeg(), "-loglevel", "error", "-y", "-i", "-", *H264, str(video)],
                                 stdin=vspipe.stdout)
        vspipe.stdout.close()  # vspipe stops if ffmpeg has
    if vspipe.returncode != 0:
        raise RenderError(f"vspipe failed (exit {vspipe.returncode}) on {script}; its messages are above")
    if encoded.returncode != 0:
        raise RenderError(f"ffmpeg failed (exit {encoded.returncode}) writing {video}; its messages are above")
    return np.load(work / "deblurred.npy")


def encode(frames: np.ndarray, fps: Fraction, video: Path) -> None:
    """T x H x W x 3 uint8 RGB frames -> the H.264 ``video``."""
    count, height, width = frames.shape[:3]
    result = subprocess.run(
        [_ffmpeg(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
         "-vf", "scale=out_color_matrix=bt709:out_range=tv", *H264, str(video)],
        input=np.ascontiguousarray(frames).tobytes(), stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise RenderError(f"ffmpeg failed writing {video}: {result.stderr.decode().strip()}")


def _ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise RenderError("ffmpeg is not installed; install it (Debian/Ubuntu: apt-get install ffmpeg)")
    return path
