"""training.debian: files taken out of real Debian packages (built here with dpkg-deb), atomically."""
import gzip
import subprocess
from pathlib import Path

import pytest

from training.debian import PackageError, extract, fetch

DATA = "usr/share/doc/pkg/data"


def make_deb(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """A real Debian package holding ``files``, built with dpkg-deb."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: pkg\nVersion: 1.0\nArchitecture: all\nMaintainer: test <t@example.org>\n"
        "Description: test package\n")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    deb = tmp_path / "pkg_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


def test_the_files_asked_for_are_copied_out_whole_and_gz_members_unpacked(tmp_path):
    clip = bytes(range(256)) * 1000
    deb = make_deb(tmp_path, {f"{DATA}/clip.avi": clip, f"{DATA}/cup.mp4.gz": gzip.compress(clip[:999]),
                              f"{DATA}/other.txt": b"x"})
    out = tmp_path / "out"
    extract(deb, {f"{DATA}/clip.avi": out / "clip.avi", f"./{DATA}/cup.mp4.gz": out / "cup.mp4"})
    assert (out / "clip.avi").read_bytes() == clip
    assert (out / "cup.mp4").read_bytes() == clip[:999]
    assert sorted(p.name for p in out.iterdir()) == ["clip.avi", "cup.mp4"]  # nothing else, no partials


def test_a_folder_member_brings_every_file_in_it_and_appears_whole(tmp_path):
    """Frame sequences ship as folders of images (ViSP's mire-2/image.0001.pgm ...)."""
    frames = {f"{DATA}/seq/image.{i:04d}.pgm": bytes([i]) * 100 for i in range(1, 4)}
    deb = make_deb(tmp_path, {**frames, f"{DATA}/seq/sub/other.pgm": b"x", f"{DATA}/clip.avi": b"clip"})
    out = tmp_path / "out"
    extract(deb, {f"{DATA}/seq/": out / "mire", f"{DATA}/clip.avi": out / "clip.avi"})
    assert sorted(p.name for p in out.iterdir()) == ["clip.avi", "mire"]  # no partial folder left
    assert {f"{DATA}/seq/{p.name}": p.read_bytes() for p in (out / "mire").iterdir()} == frames
    with pytest.raises(PackageError, match=f"has no {DATA}/empty/"):
        extract(deb, {f"{DATA}/empty/": out / "empty"})
    assert sorted(p.name for p in out.iterdir()) == ["clip.avi", "mire"]


def test_a_package_without_a_file_names_it(tmp_path):
    deb = make_deb(tmp_path, {f"{DATA}/other.txt": b"x"})
    with pytest.raises(PackageError, match=f"has no {DATA}/clip.avi"):
        extract(deb, {f"{DATA}/clip.avi": tmp_path / "clip.avi"})
    assert not (tmp_path / "clip.avi").exists()


def test_a_member_that_is_a_link_names_the_file_to_ask_for(tmp_path):
    """Packages often link one image under several names (plasma's 2560x1440.jpg -> 2560x1600.jpg)."""
    root = tmp_path / "pkg" / DATA
    root.mkdir(parents=True)
    (root / "2560x1440.jpg").symlink_to("2560x1600.jpg")
    deb = make_deb(tmp_path, {f"{DATA}/2560x1600.jpg": b"jpeg"})
    with pytest.raises(PackageError, match=f"{DATA}/2560x1440.jpg is a link to {DATA}/2560x1600.jpg: ask for"):
        extract(deb, {f"{DATA}/2560x1440.jpg": tmp_path / "photo.jpg"})
    assert not (tmp_path / "photo.jpg").exists()


def test_a_damaged_package_is_reported(tmp_path):
    deb = tmp_path / "pkg_1.0_all.deb"
    deb.write_bytes(b"!<arch>\nnot really")
    with pytest.raises(PackageError, match="not a readable Debian package"):
        extract(deb, {f"{DATA}/clip.avi": tmp_path / "clip.avi"})


def test_files_already_fetched_are_not_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get: a download would fail
    (tmp_path / "clip.avi").write_bytes(b"cached")
    fetch("pkg", {f"{DATA}/clip.avi": tmp_path / "clip.avi"})
    with pytest.raises(PackageError, match="apt-get is not available"):
        fetch("pkg", {f"{DATA}/clip.avi": tmp_path / "clip.avi", f"{DATA}/more.avi": tmp_path / "more.avi"})
