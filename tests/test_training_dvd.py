"""training.data.dvd: the DVD dataset's input/GT frame pairs become clips, its test videos split val."""
import json

import cv2
import numpy as np
import pytest
from training_helpers import texture

from training.data.dvd import TEST_VIDEOS, convert, main


def dvd_tree(root, videos: dict[str, int], size=(24, 32)):
    """quantitative_datasets/<video>/{input,GT}/00000.jpg ...; input is the darkened GT."""
    for v, (name, count) in enumerate(videos.items()):
        for k in range(count):
            sharp = texture(size, seed=100 * v + k)
            for folder, image in (("GT", sharp), ("input", (sharp * 0.5).astype(np.uint8))):
                path = root / "quantitative_datasets" / name / folder / f"{k:05d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return root


def read(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_the_authors_test_videos_become_the_val_split(tmp_path):
    root = dvd_tree(tmp_path / "DVD", {"IMG_0030": 3, "IMG_0001": 4})
    convert(root, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {name: meta["split"] for name, meta in manifest["clips"].items()} == {
        "IMG_0001-0000": "train", "IMG_0030-0000": "val"}
    assert "IMG_0030" in TEST_VIDEOS and len(TEST_VIDEOS) == 10


def test_input_frame_k_is_paired_with_gt_frame_k(tmp_path):
    root = dvd_tree(tmp_path / "DVD", {"IMG_0001": 4})
    convert(root / "quantitative_datasets", tmp_path / "out")  # the inner folder works too
    blurry, sharp = (np.load(tmp_path / "out" / "IMG_0001-0000" / f"{a}.npy") for a in ("blurry", "sharp"))
    video = root / "quantitative_datasets" / "IMG_0001"
    assert blurry.shape == sharp.shape == (4, 24, 32, 3)
    for k in range(4):
        assert np.array_equal(blurry[k], read(video / "input" / f"{k:05d}.jpg"))
        assert np.array_equal(sharp[k], read(video / "GT" / f"{k:05d}.jpg"))


def test_a_missing_or_corrupt_frame_splits_the_clip_and_is_counted(tmp_path):
    root = dvd_tree(tmp_path / "DVD", {"IMG_0001": 6})
    video = root / "quantitative_datasets" / "IMG_0001"
    (video / "GT" / "00001.jpg").unlink()
    (video / "input" / "00004.jpg").write_bytes(b"garbage")
    info = convert(root, tmp_path / "out")
    lengths = {p.name: len(np.load(p / "sharp.npy")) for p in sorted((tmp_path / "out").glob("IMG_*"))}
    assert lengths == {"IMG_0001-0000": 1, "IMG_0001-0001": 2, "IMG_0001-0002": 1}
    assert info["skipped_files"] == 2


def test_the_cli_converts_the_named_videos_downscaled(tmp_path):
    root = dvd_tree(tmp_path / "DVD", {"IMG_0001": 2, "IMG_0002": 2})
    main([str(root), "-o", str(tmp_path / "out"), "--videos", "IMG_0002", "--max-side", "16"])
    assert [p.name for p in (tmp_path / "out").glob("IMG_*")] == ["IMG_0002-0000"]
    assert np.load(tmp_path / "out" / "IMG_0002-0000" / "blurry.npy").shape == (2, 12, 16, 3)


def test_a_folder_without_the_dvd_layout_is_refused_with_the_fix(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path), "-o", str(tmp_path / "out")])
    assert "pass the unpacked DeepVideoDeblurring_Dataset" in capsys.readouterr().err
