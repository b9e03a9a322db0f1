"""Frames to the device and back for the torch backends: native planes in once, the clip's format out.

Each source frame's planes are copied once into pinned staging memory (on a CUDA device) and uploaded on
a copy stream; ``colour.Converter`` turns them into the model's padded RGB there, and the result is
cached for the five windows that use it, with an event that says when it is ready. Output frames take
one of ``num_streams`` compute streams each (frames in flight): the stream waits for its inputs' events
(no host synchronisation), runs the model and the conversion back to the clip's format, and downloads
the planes into pinned memory; only the thread that delivers that frame waits, for that frame alone.
Upload of one frame, inference of another and download of a third so overlap on the GPU.

On the CPU device the same code runs without streams, events or pinned memory (there is nothing to
overlap); that is how the tests check it. On torch's meta device (shapes only, no data) every device
operation is dispatched but computes nothing, while the host still stages each frame's planes in and
out: what remains is the host's own share of the path, which ``bench/plumbing.py`` measures that way.
"""
from __future__ import annotations

import queue
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import vapoursynth as vs

from ..frames import Colour
from .colour import Converter, storage


@dataclass(frozen=True)
class Resident:
    """A frame's RGB on the device, and the CUDA event after which it may be read (None on the CPU)."""

    rgb: torch.Tensor
    ready: Any = None


class DevicePath:
    """Frames of ``fmt`` (``colour``) <-> resident RGB on ``device``, padded to ``multiple``."""

    def __init__(self, fmt: vs.VideoFormat, colour: Colour, width: int, height: int, multiple: int,
                 device: torch.device, num_streams: int):
        self.device = device
        self.converter = Converter(fmt, colour, width, height, multiple, device)
        self._dtype = storage(fmt)
        self._cuda = device.type == "cuda"
        self._staged = device.type != "cpu"  # planes pass through host buffers (pinned on CUDA)
        self._copy_streams = self._stream_pool(num_streams)
        self._compute_streams = self._stream_pool(num_streams)

    def _stream_pool(self, count: int) -> queue.SimpleQueue | None:
        if not self._cuda:
            return None
        pool: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(count):
            pool.put(torch.cuda.Stream(self.device))
        return pool

    @contextmanager
    def _on(self, pool: queue.SimpleQueue | None) -> Iterator[Any]:
        """A free stream of ``pool``, made current (blocks while all are busy); nothing on the CPU."""
        if pool is None:
            yield None
            return
        stream = pool.get()
        try:
            with torch.cuda.stream(stream):
                yield stream
        finally:
            pool.put(stream)

    def read(self, frame: vs.VideoFrame) -> Resident:
        """A source frame's planes -> its RGB on the device (called once per source frame)."""
        with self._on(self._copy_streams) as stream, torch.inference_mode():
            planes = [self._upload(self._host(frame, p)) for p in range(frame.format.num_planes)]
            rgb = self.converter.to_rgb(planes)
            return Resident(rgb, self._record(stream))

    def upload(self, rgb: np.ndarray) -> Resident:
        """A host RGB array (a warped neighbour of an aligned model) -> resident, like ``read``."""
        with self._on(self._copy_streams) as stream:
            return Resident(self._upload(torch.from_numpy(rgb)), self._record(stream))

    @contextmanager
    def computing(self, inputs: Sequence[Resident]) -> Iterator[list[torch.Tensor]]:
        """A compute stream for one output frame, once ``inputs`` are ready on the device: yields their RGB."""
        with self._on(self._compute_streams) as stream, torch.inference_mode():
            for resident in inputs:
                if stream is not None:
                    stream.wait_event(resident.ready)
                    resident.rgb.record_stream(stream)  # the cache may drop it while this stream reads it
            yield [resident.rgb for resident in inputs]

    def write(self, rgb: torch.Tensor, frame: vs.VideoFrame) -> None:
        """The model's RGB (on the device) -> the planes of ``frame``, in its format (inside ``computing``)."""
        planes = self.converter.from_rgb(rgb)
        if not self._staged:
            for p, plane in enumerate(planes):
                torch.from_numpy(self._view(frame, p)).copy_(plane)
            return
        staged = [torch.empty(plane.shape, dtype=plane.dtype, pin_memory=self._cuda) for plane in planes]
        if self._cuda:  # a meta device has no data to download
            for host, plane in zip(staged, planes):
                host.copy_(plane, non_blocking=True)
            self._record(torch.cuda.current_stream(self.device)).synchronize()  # this frame's download only
        for p, host in enumerate(staged):
            np.copyto(self._view(frame, p), host.numpy())

    def _view(self, frame: vs.VideoFrame, plane: int) -> np.ndarray:
        """Plane ``plane`` of ``frame`` as an array of the dtype it travels as (a view, no copy)."""
        array = np.asarray(frame[plane])
        return array.view(np.int16) if self._dtype == torch.int16 else array

    def _host(self, frame: vs.VideoFrame, plane: int) -> torch.Tensor:
        """Plane ``plane`` of a source frame on the host: copied into pinned memory for a CUDA upload, else
        a view of the frame on the CPU device (the conversion reads it before the frame is released)."""
        array = self._view(frame, plane)
        if not self._staged:
            with warnings.catch_warnings():  # a read-only source plane: the conversion only reads it
                warnings.simplefilter("ignore", UserWarning)
                return torch.from_numpy(array)
        staged = torch.empty(array.shape, dtype=self._dtype, pin_memory=self._cuda)
        np.copyto(staged.numpy(), array)
        return staged

    def _upload(self, host: torch.Tensor) -> torch.Tensor:
        # torch's pinned allocator keeps ``host`` until this asynchronous copy has read it
        return host.to(self.device, non_blocking=True) if self._staged else host

    def _record(self, stream) -> Any:
        """An event marking the end of the work queued so far on ``stream`` (None on the CPU)."""
        if stream is None:
            return None
        event = torch.cuda.Event(blocking=True)  # a host thread waiting on it sleeps instead of spinning
        event.record(stream)
        return event

