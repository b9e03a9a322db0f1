"""The filter graph behind Deblur.

Output frame n is a ``std.ModifyFrame`` over five copies of the clip shifted by -2 ... +2 (clamped at
the ends), so VapourSynth fetches source frames n-2 ... n+2 and their properties. ``window`` picks the
five the model sees; each source frame is converted, padded and uploaded once into a small shared
cache, and the five outputs that need it reuse it. For a model trained on aligned windows the cache
holds host arrays instead, and every output warps its neighbours onto its centre (``vs_dvd.align``)
before uploading the five.

How frames reach the model is the path's job: the host backends (cpu, ov) read float work frames that
core.resize made (``HostPath``); the torch backends (cuda, trt) take the clip's own planes to the device
and convert there (``vs_dvd.gpu.path``), falling back to core.resize's work frames, with a log line,
for what the torch converter does not handle.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import nullcontext
from typing import Any

import numpy as np
import vapoursynth as vs

from . import frames, window
from .align import align_window
from .backends import Backend
from .frames import Colour
from .tiles import Tiling

ALPHA = "_Alpha"  # the frame property that carries an attached alpha plane


class SourceCache:
    """Thread-safe, bounded: each source frame's resident array is made once while it is in use."""

    def __init__(self, capacity: int, make: Callable[[vs.VideoFrame], Any]):
        self.capacity = capacity
        self.made = 0  # how many times ``make`` ran: one per source frame when nothing is evicted
        self._make = make
        self._entries: OrderedDict[int, Future] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, index: int, frame: vs.VideoFrame) -> Any:
        """Source frame ``index`` (whose frame is ``frame``) in its resident form."""
        with self._lock:
            entry = self._entries.get(index)
            owner = entry is None
            if owner:
                entry = self._entries[index] = Future()
                self.made += 1
                if len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(index)
        if owner:
            try:
                entry.set_result(self._make(frame))
            except BaseException as e:
                with self._lock:
                    if self._entries.get(index) is entry:
                        del self._entries[index]
                entry.set_exception(e)
        return entry.result()


def shifted(clip: vs.VideoNode, offset: int) -> vs.VideoNode:
    """Frame n of the result is frame n + offset of ``clip``, clamped to its first and last frames."""
    count = clip.num_frames
    if offset < 0:
        return (clip[0] * -offset + clip)[:count]
    if offset > 0:
        return (clip + clip[-1] * offset)[offset:]
    return clip


def uncached(node: vs.VideoNode) -> vs.VideoNode:
    """``node`` without VapourSynth's frame cache: for nodes whose frames are each read once, where the
    interleaved streams' request pattern made the caches grow through a long render
    (tests/test_reliability_longrun.py)."""
    node.std.SetVideoCache(0)
    return node


class HostPath:
    """The host backends' path: float work frames read into padded arrays, and the model's output written back."""

    def __init__(self, backend: Backend, multiple: int):
        self._backend, self._multiple = backend, multiple

    def read(self, frame: vs.VideoFrame) -> Any:
        return self._backend.upload(frames.read(frame, self._multiple))

    def upload(self, rgb: np.ndarray) -> Any:
        return self._backend.upload(rgb)

    def computing(self, inputs: Sequence) -> nullcontext:
        return nullcontext(inputs)

    def write(self, rgb: np.ndarray, frame: vs.VideoFrame) -> None:
        frames.write(rgb, frame)


def deblurred(clip: vs.VideoNode, colour: Colour, backend: Backend, tiling: Tiling, multiple: int,
              align: str | None = None, streams: int = 1) -> vs.VideoNode:
    """``clip`` deblurred by ``backend``, on the path that suits it, ``streams`` frames in flight; same format
    and properties as ``clip``."""
    device = getattr(backend, "device", None)  # the torch backends' device
    if device is not None:
        from .gpu.colour import unsupported
        from .gpu.path import DevicePath

    if device is not None and not align:  # aligned models warp their neighbours on the host
        why = unsupported(clip.format, colour)
        if why is None:
            path = DevicePath(clip.format, colour, clip.width, clip.height, multiple, device, backend.num_streams)
            return Deblurrer(clip, backend, path, tiling, multiple).clip(streams).std.CopyFrameProps(clip)
        vs.core.log_message(vs.MESSAGE_TYPE_WARNING, f"dvd.Deblur: the clip is {clip.format.name}, but {why}; "
                            "converting it with core.resize on the host instead")
    work = frames.to_work(clip, colour)
    path = (HostPath(backend, multiple) if device is None else
            DevicePath(work.format, Colour(), work.width, work.height, multiple, device, backend.num_streams))
    return frames.from_work(Deblurrer(work, backend, path, tiling, multiple, align).clip(streams), clip, colour)


class Deblurrer:
    """Renders output frames of ``clip`` with ``backend``, reading and writing frames through ``path``, tile
    by tile as ``tiling`` says; with ``align`` (a ``vs_dvd.align`` method) the neighbours are first warped
    onto the centre frame."""

    def __init__(self, clip: vs.VideoNode, backend: Backend, path, tiling: Tiling, multiple: int,
                 align: str | None = None):
        self.input = clip
        self.backend = backend
        self.path = path
        self.tiling = tiling
        self.align = align
        self._core = vs.core.core  # callbacks may run where vs.core means another environment
        capacity = 2 * window.FRAMES + self._core.num_threads
        self.sources = SourceCache(capacity, (lambda f: frames.read(f, multiple)) if align else path.read)

    def clip(self, streams: int = 1) -> vs.VideoNode:
        """The deblurred clip, in the format of the clip it reads, rendering up to ``streams`` frames at once.

        VapourSynth runs one ModifyFrame's callback for one frame at a time, so ``streams`` frames are in
        flight only as ``streams`` ModifyFrames, each over every ``streams``-th frame, interleaved."""
        neighbours = [shifted(self.input, d) for d in range(-window.RADIUS, window.RADIUS + 1)]
        if streams == 1:
            return self.input.std.ModifyFrame(neighbours, self.render)
        count = self.input.num_frames
        neighbours = [uncached(c) for c in neighbours]
        every = lambda c, k: uncached(c.std.SelectEvery(streams, k))
        parts = [uncached(every(self.input, k).std.ModifyFrame(
                     [every(c, k) for c in neighbours], lambda n, f, k=k: self.render(n * streams + k, f)))
                 for k in range(min(streams, count))]
        return vs.core.std.Interleave(parts, extend=True)[:count]

    def render(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        """ModifyFrame's selector: ``f`` holds source frames n-2 ... n+2, clamped."""
        if ALPHA in f[window.RADIUS].props:
            raise vs.Error(f"dvd.Deblur: frame {n} of the clip has an alpha plane ({ALPHA}), which the "
                           "model cannot deblur; deblur the colour alone and put the alpha back: "
                           f"alpha = clip.std.PropToClip('{ALPHA}'); out = core.dvd.Deblur(clip."
                           f"std.RemoveFrameProps('{ALPHA}')).std.ClipToProp(alpha, '{ALPHA}')")
        fetched = dict(zip(window.neighbours(n, self.input.num_frames), f))
        chosen = window.window(n, self.input.num_frames,
                               lambda k: window.is_cut(fetched[k].props, fetched[k + 1].props))
        inputs = [self.sources.get(k, fetched[k]) for k in chosen]
        if self.align:  # 3 x H x W arrays -> H x W x 3 for the flow, and back
            aligned = align_window([x.transpose(1, 2, 0) for x in inputs], self.align)
            inputs = [self.path.upload(np.ascontiguousarray(x.transpose(2, 0, 1))) for x in aligned]
        out = self._core.create_video_frame(self.input.format, self.input.width, self.input.height)
        with self.path.computing(inputs) as resident:
            self.path.write(self.tiling.run(self.backend.infer, resident), out)
        return out
