"""training.corpus: the photo list, held out by source image, built without the network when cached."""
import cv2
import numpy as np

from training.corpus import DEBIAN_PHOTOS, SKIMAGE_PHOTOS, VALIDATION, gather


def test_every_validation_photo_is_in_the_corpus_and_lomiri_is_never_used():
    names = {n for _, files in DEBIAN_PHOTOS.values() for n in files} | set(SKIMAGE_PHOTOS)
    assert VALIDATION <= names
    assert not [p for p in DEBIAN_PHOTOS if p.startswith("lomiri")]


def test_unpacked_packages_are_reused_and_missing_photos_skipped(tmp_path, caplog):
    """Packages marked unpacked are not downloaded again: this runs offline."""
    present = {"mate-backgrounds": ["Storm", "Wood"], "plasma-workspace-wallpapers": ["Kite"]}
    for package, (_, files) in DEBIAN_PHOTOS.items():
        root = tmp_path / package
        root.mkdir()
        (root / ".done").touch()
        for name in present[package]:
            path = root / files[name]
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    photos = {p.name: p for p in gather(tmp_path)}
    assert set(photos) == {"Storm", "Wood", "Kite", *SKIMAGE_PHOTOS}
    assert {n: p.split for n, p in photos.items() if p.split == "val"} == {"Storm": "val", "coffee": "val"}
    assert photos["Wood"].source == "debian:mate-backgrounds" and photos["Wood"].licence == "GPL-2+"
    assert "corpus photo missing: Aqua" in caplog.text
