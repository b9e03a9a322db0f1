"""Reliability, load and long runs (issue #6, item 3): 2,000 frames of a 320x240 clip through
``core.dvd.Deblur`` in vspipe give the same bytes with 8 frame requests in flight as with one, and
the process's memory stays flat: its peak RSS after 2,000 frames is its peak after 200. The model
is a single convolution, so what runs 2,000 times is the plugin's own work (format conversions,
windows, the source cache, frame copies), not the network. Frames requested in random order and
concurrently are checked in tests/test_pipeline.py."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.vspipe import VSPIPE, environment
from plugin_helpers import conv_onnx

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read from /proc")

FRAMES, EARLY = 2000, 200
FRAME_BYTES = 320 * 240 * 3 // 2  # one YUV420P8 frame on vspipe's stdout
GROWTH_KIB = 32 * 1024  # what peak RSS may gain from frame 200 to 2,000: warming up took 8-10 MiB
# (then flat to frame 6,000); one output frame leaked per frame would add 200 MiB, one work frame 1.6 GiB

# A noise texture that moves 3 pixels a frame (along the rows, wrapping into the next one): no two
# frames are alike, so a frame put in another's place changes the output. BT.709 YUV420P8, as most
# video is.
SCRIPT = textwrap.dedent("""
    import numpy as np
    import vapoursynth as vs
    core = vs.core

    texture = np.random.default_rng(0).integers(0, 256, (3, 240, 320), dtype=np.uint8)
    blank = core.std.BlankClip(format=vs.RGB24, width=320, height=240, length={frames})

    def paint(n, f):
        out = f.copy()
        for p in range(3):
            np.asarray(out[p])[...] = np.roll(texture[p], 3 * n)
        return out

    clip = blank.std.ModifyFrame(blank, paint).resize.Bicubic(format=vs.YUV420P8, matrix=1)
    core.dvd.Deblur(clip, model={model!r}, backend="cpu", num_streams=2, num_threads=1).set_output()
""")


@dataclass
class Run:
    frames: list[str]  # sha256 of each output frame, in output order
    peak_rss_kib: dict[int, int]  # frame 200 and frame 2,000 -> vspipe's peak resident memory by then
    seconds: float


def peak_rss_kib(pid: int) -> int:
    """The peak resident memory so far of running process ``pid`` (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no VmHWM line")


def render(script: Path, env: dict[str, str], requests: int, log: Path) -> Run:
    """vspipe ``-r requests`` on ``script``, hashing its stdout frame by frame as it streams by.

    Peak RSS is VmHWM, read while vspipe runs: once 200 frames have come out, and once all but the
    last have (that frame, larger than a pipe's buffer, keeps vspipe writing until it is read). Not
    ``os.wait4``'s ru_maxrss: Linux counts in it the memory of the parent it was forked from."""
    start = time.monotonic()
    with log.open("wb") as stderr, subprocess.Popen([str(VSPIPE), "-r", str(requests), str(script), "-"],
                                                    env=env, stdout=subprocess.PIPE, stderr=stderr) as proc:
        try:
            frames, peaks = [], {}
            while chunk := proc.stdout.read(FRAME_BYTES):
                assert len(chunk) == FRAME_BYTES, f"output ends inside frame {len(frames)}"
                frames.append(hashlib.sha256(chunk).hexdigest())
                if len(frames) in (EARLY, FRAMES - 1):
                    peaks[EARLY if len(frames) == EARLY else FRAMES] = peak_rss_kib(proc.pid)
            proc.wait()
        finally:
            proc.kill()  # when it failed half-way; then Popen's exit reaps it
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert len(frames) == FRAMES, f"{len(frames)} frames output"
    return Run(frames, peaks, time.monotonic() - start)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, Run]:
    """The same 2,000-frame render with 1 and with 8 frame requests in flight."""
    folder = tmp_path_factory.mktemp("longrun")
    script = folder / "long.vpy"
    script.write_text(SCRIPT.format(frames=FRAMES, model=str(conv_onnx(folder / "conv.onnx"))))
    env = environment(folder / "config")
    return {r: render(script, env, r, folder / f"r{r}.log") for r in (1, 8)}


def test_eight_requests_in_flight_give_the_same_bytes_as_one(runs):
    one, eight = runs[1].frames, runs[8].frames
    assert len(set(one)) == FRAMES  # every frame differs, so a misplaced frame would show
    differing = [n for n in range(FRAMES) if one[n] != eight[n]]
    assert not differing, f"{len(differing)} frames differ, the first is frame {differing[0]}"


@pytest.mark.parametrize("requests", [1, 8])
def test_peak_memory_after_2000_frames_is_that_after_200(runs, requests):
    peaks = runs[requests].peak_rss_kib
    assert peaks[FRAMES] <= peaks[EARLY] + GROWTH_KIB, (
        f"peak RSS grew from {peaks[EARLY] / 1024:.0f} MiB at frame {EARLY} to "
        f"{peaks[FRAMES] / 1024:.0f} MiB at frame {FRAMES}")
