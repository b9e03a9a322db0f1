"""A video file as a VapourSynth clip: bestsource (``core.bs.VideoSource``) where it is installed, else PyAV.

bestsource indexes the file once and seeks exactly; the PyAV reader decodes in order, which is all a
render asks for (Deblur reads frames n-2 ... n+2 around a frame that advances), and starts again from
the beginning on a request further back than the frames it keeps.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import numpy as np
import vapoursynth as vs

KEPT_PER_THREAD = 4  # decoded frames the PyAV reader keeps per VapourSynth thread: more than the frames in flight
# PyAV pixel format -> the VapourSynth format whose planes it holds as they are; others are converted to RGB24.
PLANAR = {"gray": vs.GRAY8, "gray10le": vs.GRAY10, "gray16le": vs.GRAY16,
          "yuv420p": vs.YUV420P8, "yuvj420p": vs.YUV420P8, "yuv422p": vs.YUV422P8, "yuvj422p": vs.YUV422P8,
          "yuv444p": vs.YUV444P8, "yuvj444p": vs.YUV444P8, "yuv420p10le": vs.YUV420P10,
          "yuv422p10le": vs.YUV422P10, "yuv444p10le": vs.YUV444P10, "yuv420p12le": vs.YUV420P12,
          "yuv422p12le": vs.YUV422P12, "yuv444p12le": vs.YUV444P12, "yuv420p16le": vs.YUV420P16,
          "yuv444p16le": vs.YUV444P16}
READERS = ("bestsource", "pyav")


class SourceError(RuntimeError):
    """The file cannot be read; the message names it and what to do."""


def available() -> list[str]:
    """The readers installed here, the preferred first."""
    import importlib.util

    found = ["bestsource"] if hasattr(vs.core, "bs") else []
    return found + (["pyav"] if importlib.util.find_spec("av") else [])


def open_clip(path: Path, reader: str = "auto") -> vs.VideoNode:
    """``path``'s first video stream as a clip, with the colour properties the file states."""
    readers = available()
    if reader == "auto":
        if not readers:
            raise SourceError("no video reader is installed; pip install vapoursynth-bestsource, or PyAV "
                              "(pip install av)")
        reader = readers[0]
    elif reader not in readers:
        raise SourceError(f"--source {reader}: it is not installed; pip install "
                          f"{'vapoursynth-bestsource' if reader == 'bestsource' else 'av'}, or leave --source out")
    if reader == "bestsource":
        try:
            return vs.core.bs.VideoSource(str(path))
        except vs.Error as e:
            raise SourceError(f"{path}: bestsource cannot read it ({e})") from None
    return PyAVSource(path).clip()


class PyAVSource:
    """Frames of one video stream decoded in order with PyAV, kept a few at a time."""

    def __init__(self, path: Path):
        import av

        self._av, self._path, self._lock = av, path, threading.Lock()
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                self.frames = sum(1 for packet in container.demux(stream) if packet.size)
                self.rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        except (av.error.FFmpegError, OSError, IndexError) as e:
            raise SourceError(f"{path}: PyAV cannot read a video stream from it ({e})") from None
        self._kept: OrderedDict[int, tuple[list[np.ndarray], dict]] = OrderedDict()
        self._keep = KEPT_PER_THREAD * vs.core.num_threads + 8  # + the five-frame window
        self._decoder, self._next = None, 0
        first = self._decoded(0)
        self.format, self.size = first[2], first[3]
        if self.frames == 0:
            raise SourceError(f"{path}: its video stream holds no frames")

    def clip(self) -> vs.VideoNode:
        height, width = self.size
        blank = vs.core.std.BlankClip(format=self.format, width=width, height=height, length=self.frames,
                                      fpsnum=self.rate.numerator, fpsden=self.rate.denominator, keep=True)

        def paint(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
            planes, props, _, _ = self._decoded(n)
            out = f.copy()
            for p, plane in enumerate(planes):
                np.asarray(out[p])[...] = plane
            out.props.update(props)
            return out

        return blank.std.ModifyFrame(blank, paint)

    def _decoded(self, n: int) -> tuple[list[np.ndarray], dict, int, tuple[int, int]]:
        with self._lock:
            if n not in self._kept:
                if n < self._next or self._decoder is None:  # further back than kept: from the start
                    self._decoder, self._next = self._frames(), 0
                while self._next <= n:
                    frame = next(self._decoder, None)
                    if frame is None:
                        raise vs.Error(f"{self._path}: frame {n} cannot be decoded (the stream ends at "
                                       f"{self._next}); is the file truncated?")
                    self._kept[self._next] = self._convert(frame)
                    self._next += 1
                    while len(self._kept) > self._keep:
                        self._kept.popitem(last=False)
            return self._kept[n]

    def _frames(self):
        container = self._av.open(str(self._path))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container.decode(stream)

    def _convert(self, frame) -> tuple[list[np.ndarray], dict, int, tuple[int, int]]:
        name = frame.format.name
        fmt = PLANAR.get(name)
        if fmt is None:
            rgb = frame.to_ndarray(format="rgb24")
            return [rgb[..., c] for c in range(3)], {}, vs.RGB24, rgb.shape[:2]
        depth = np.uint8 if vs.core.get_video_format(fmt).bits_per_sample == 8 else np.uint16
        planes = []
        for plane in frame.planes:
            row = plane.line_size // np.dtype(depth).itemsize
            planes.append(np.frombuffer(plane, depth).reshape(plane.height, row)[:, :plane.width])
        props = {"_Range": 1 if name.startswith("yuvj") or frame.color_range == 2 else 0}
        for key, value in (("_Matrix", frame.colorspace), ("_Primaries", frame.color_primaries),
                           ("_Transfer", frame.color_trc)):
            if value not in (None, 2):  # 2: unspecified, as in VapourSynth
                props[key] = int(value)
        return planes, props, fmt, (frame.height, frame.width)
