"""The filter graph behind Deblur, on a float work clip (RGBS or GRAYS).

Output frame n is a ``std.ModifyFrame`` over five copies of the work clip shifted by -2 ... +2
(clamped at the ends), so VapourSynth fetches source frames n-2 ... n+2 and their properties.
``window`` picks the five the model sees; each source frame is converted, padded and uploaded
once into a small shared cache, and the five outputs that need it reuse it. For a model trained on
aligned windows the cache holds host arrays instead, and every output warps its neighbours onto its
centre (``vs_dvd.align``) before uploading the five.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np
import vapoursynth as vs

from . import frames, window
from .align import align_window
from .backends import Backend
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


class Deblurrer:
    """Renders output frames of ``work`` with ``backend``, tile by tile as ``tiling`` says; with ``align``
    (a ``vs_dvd.align`` method) the neighbours are first warped onto the centre frame."""

    def __init__(self, work: vs.VideoNode, backend: Backend, tiling: Tiling, multiple: int,
                 align: str | None = None):
        self.work = work
        self.backend = backend
        self.tiling = tiling
        self.multiple = multiple
        self.align = align
        self._core = vs.core.core  # callbacks may run where vs.core means another environment
        capacity = 2 * window.FRAMES + self._core.num_threads
        read = lambda f: frames.read(f, multiple)
        self.sources = SourceCache(capacity, read if align else lambda f: backend.upload(read(f)))

    def clip(self) -> vs.VideoNode:
        """The deblurred work clip."""
        neighbours = [shifted(self.work, d) for d in range(-window.RADIUS, window.RADIUS + 1)]
        return self.work.std.ModifyFrame(neighbours, self.render)

    def render(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        """ModifyFrame's selector: ``f`` holds source frames n-2 ... n+2, clamped."""
        if ALPHA in f[window.RADIUS].props:
            raise vs.Error(f"dvd.Deblur: frame {n} of the clip has an alpha plane ({ALPHA}), which the "
                           "model cannot deblur; deblur the colour alone and put the alpha back: "
                           f"alpha = clip.std.PropToClip('{ALPHA}'); out = core.dvd.Deblur(clip."
                           f"std.RemoveFrameProps('{ALPHA}')).std.ClipToProp(alpha, '{ALPHA}')")
        fetched = dict(zip(window.neighbours(n, self.work.num_frames), f))
        chosen = window.window(n, self.work.num_frames,
                               lambda k: window.is_cut(fetched[k].props, fetched[k + 1].props))
        inputs = [self.sources.get(k, fetched[k]) for k in chosen]
        if self.align:  # 3 x H x W arrays -> H x W x 3 for the flow, and back
            aligned = align_window([x.transpose(1, 2, 0) for x in inputs], self.align)
            inputs = [self.backend.upload(np.ascontiguousarray(x.transpose(2, 0, 1))) for x in aligned]
        rgb = self.tiling.run(self.backend.infer, inputs)
        out = self._core.create_video_frame(self.work.format, self.work.width, self.work.height)
        frames.write(rgb, out)
        return out
