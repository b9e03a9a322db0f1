"""The demo's real footage: OpenCV's pedestrian sample ``vtest.avi``, from Debian's ``opencv-doc``.

The package is fetched with ``apt-get download`` (no install, no root needed), the one video is
taken out of it, and the ~95 MB package is deleted again: only the 8 MB clip stays in the cache.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

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
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            extract(download(PACKAGE, Path(tmp)), MEMBER, target)
    return target


def download(package: str, folder: Path) -> Path:
    """The Debian package's .deb, downloaded into ``folder``."""
    fix = "or pass --video with any video file to use that instead"
    if not shutil.which("apt-get"):
        raise SampleError(f"apt-get is not available to fetch the sample clip from Debian's {package}; {fix}")
    result = subprocess.run(["apt-get", "download", package], cwd=folder, capture_output=True, text=True)
    debs = list(folder.glob(f"{package}_*.deb"))
    if result.returncode != 0 or not debs:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no .deb written"
        raise SampleError(f"'apt-get download {package}' failed ({reason}); run 'apt-get update' "
                          f"(as root) and try again, {fix}")
    return debs[0]


def extract(deb: Path, member: str, target: Path) -> None:
    """Copy one file out of a .deb to ``target``, atomically (a half-written clip never appears)."""
    partial = target.with_suffix(target.suffix + ".partial")
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as unpack:  # it complains when cut short
        try:
            with tarfile.open(fileobj=unpack.stdout, mode="r|*") as tar:
                entry = next((e for e in tar if e.name.lstrip("./") == member and e.isfile()), None)
                if entry is None:
                    raise SampleError(f"{deb.name} has no {member}; pass --video with any video file instead")
                with tar.extractfile(entry) as source, open(partial, "wb") as out:
                    shutil.copyfileobj(source, out)
        except tarfile.ReadError as e:
            raise SampleError(f"{deb.name} is not a readable Debian package ({e}); try again, "
                              "or pass --video with any video file instead") from None
        finally:
            unpack.stdout.close()  # dpkg-deb may still be writing the rest: let it stop
    os.replace(partial, target)
