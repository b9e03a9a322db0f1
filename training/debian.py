"""Files out of Debian packages without installing them: ``apt-get download``, then ``dpkg-deb``.

Used for the training corpus and the demo's sample clip. Only the files asked for are kept (the
.deb is deleted again), each written atomically, so an interrupted fetch never leaves half a file.
"""
from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path


class PackageError(RuntimeError):
    """A package could not be fetched or lacks a file; the message says why."""


def download(package: str, folder: Path) -> Path:
    """The package's .deb, downloaded into ``folder``."""
    if not shutil.which("apt-get"):
        raise PackageError(f"apt-get is not available to fetch Debian's {package}")
    result = subprocess.run(["apt-get", "download", package], cwd=folder, capture_output=True, text=True)
    debs = list(Path(folder).glob(f"{package}_*.deb"))
    if result.returncode != 0 or not debs:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no .deb written"
        raise PackageError(f"'apt-get download {package}' failed ({reason}); run 'apt-get update' (as root) "
                           "and try again")
    return debs[0]


def extract(deb: Path, members: dict[str, Path]) -> None:
    """Copy files out of a .deb: member path -> target. A member ending in ``.gz`` whose target
    does not is decompressed on the way. A member ending in ``/`` is a folder (of frames, say):
    every file directly in it goes into the target folder, which appears whole or not at all."""
    wanted = {m.lstrip("./"): Path(t) for m, t in members.items()}
    folders = {m: t for m, t in wanted.items() if m.endswith("/")}
    partial = {m: _partial(t) for m, t in folders.items()}
    try:
        for p in partial.values():
            shutil.rmtree(p, ignore_errors=True)
            p.mkdir(parents=True)
        files = {m: t for m, t in wanted.items() if m not in folders}
        links = _copy_out(deb, files, partial)  # takes the files found out of ``files``
        if links:
            raise PackageError(f"in {deb.name}, " + ", ".join(f"{m} is a link to {t}" for m, t in sorted(links.items()))
                               + ": ask for the file itself")
        missing = sorted([*files, *(m for m, p in partial.items() if not any(p.iterdir()))])
        if missing:
            raise PackageError(f"{deb.name} has no {', '.join(missing)}")
        for member, target in folders.items():
            shutil.rmtree(target, ignore_errors=True)
            os.replace(partial[member], target)
    finally:
        for p in partial.values():
            shutil.rmtree(p, ignore_errors=True)


def _copy_out(deb: Path, files: dict[str, Path], folders: dict[str, Path]) -> dict[str, str]:
    """One pass over the package: each of ``files`` (popped when found) to its target, each file
    directly in one of ``folders`` into that folder. Returns the wanted members that are links."""
    links = {}
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as unpack:  # it complains when cut short
        try:
            with tarfile.open(fileobj=unpack.stdout, mode="r|*") as tar:
                for entry in tar:
                    name = entry.name.lstrip("./")
                    folder = posixpath.dirname(name) + "/"
                    if not (entry.isfile() or entry.issym() or entry.islnk()):
                        continue
                    if name in files:
                        target = files.pop(name)
                    elif folder in folders:
                        target = folders[folder] / posixpath.basename(name)
                    else:
                        continue
                    if entry.isfile():
                        with tar.extractfile(entry) as source:
                            unzip = entry.name.endswith(".gz") and target.suffix != ".gz"
                            _write(gzip.GzipFile(fileobj=source) if unzip else source, target)
                    else:  # the stream may have passed the link's target already: name it instead
                        links[name] = _link_target(entry)
                    if not files and not folders:
                        break
        except (tarfile.ReadError, OSError, EOFError) as e:
            raise PackageError(f"{deb.name} is not a readable Debian package ({e}); try again") from None
        finally:
            unpack.stdout.close()  # dpkg-deb may still be writing the rest: let it stop
    return links


def fetch(package: str, members: dict[str, Path]) -> None:
    """Make sure every target exists, downloading the package once if any is missing."""
    missing = {m: Path(t) for m, t in members.items()
               if not (Path(t).is_dir() if m.endswith("/") else Path(t).is_file())}
    if not missing:
        return
    folder = next(iter(missing.values())).parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        extract(download(package, Path(tmp)), missing)


def _link_target(entry: tarfile.TarInfo) -> str:
    """The member path a symbolic or hard link in the archive points at."""
    if entry.islnk():
        return entry.linkname.lstrip("./")
    return posixpath.normpath(posixpath.join(posixpath.dirname(entry.name.lstrip("./")), entry.linkname))


def _partial(target: Path) -> Path:
    """Where ``target`` is written before it appears under its own name."""
    return target.with_name(f".{target.name}.partial")


def _write(source, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    try:
        with open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
