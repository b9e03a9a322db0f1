"""vs_dvd.basics: the facts and helpers the plugin, the engine builder and training share."""
import json
import subprocess
import sys

import numpy as np
import pytest

from vs_dvd import basics
from vs_dvd.basics import PSNR_CAP, dataset_clips, first_line, neighbours, parse_size, psnr, round_up


def test_neighbours_are_the_five_frames_around_n_clamped_to_the_clip():
    assert neighbours(5, 10) == [3, 4, 5, 6, 7]
    assert neighbours(0, 10) == [0, 0, 0, 1, 2]
    assert neighbours(9, 10) == [7, 8, 9, 9, 9]
    assert neighbours(0, 1) == [0] * 5


def test_round_up_gives_the_next_multiple_of_8():
    assert [round_up(s) for s in (1, 8, 9, 1081)] == [8, 8, 16, 1088]
    assert round_up(10, 4) == 12


def test_psnr_is_ten_log_of_one_over_the_mean_squared_error():
    a = np.zeros((4, 4, 3))
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    assert psnr(a + 0.1, a) == pytest.approx(20.0)


def test_equal_images_score_the_cap_not_infinity():
    a = np.full((4, 4), 0.5, np.float32)
    assert psnr(a, a) == PSNR_CAP == 100.0
    assert psnr(a, a + 1e-7) == PSNR_CAP  # 140 dB counts as the cap too


def write_manifest(root, clips):
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({"format": 1, "clips": clips}))
    return root


def test_dataset_clips_are_those_of_the_split_in_manifest_order(tmp_path):
    a = write_manifest(tmp_path / "a", {"x": {"split": "val"}, "y": {}, "z": {"split": "train"}})
    b = write_manifest(tmp_path / "b", {"w": {"split": "train"}})
    assert dataset_clips([a, b], "train") == [a / "y", a / "z", b / "w"]  # no split counts as train
    assert dataset_clips([a], None) == [a / "x", a / "y", a / "z"]


def test_a_split_without_clips_or_a_folder_without_manifest_is_refused(tmp_path):
    a = write_manifest(tmp_path / "a", {"x": {"split": "val"}})
    with pytest.raises(ValueError, match=r"no 'test' clips in .*a; pass datasets that hold that split"):
        dataset_clips([a], "test")
    with pytest.raises(ValueError, match="has no manifest.json: pass a dataset folder"):
        dataset_clips([tmp_path], "val")


def test_sizes_are_height_x_width():
    assert parse_size("720x1280") == (720, 1280)
    assert parse_size(" 64X96 ") == (64, 96)
    for bad in ("720", "x", "7a0x1280", "1x2x3", "-8x8"):
        with pytest.raises(ValueError, match="expected HEIGHTxWIDTH"):
            parse_size(bad)


def test_first_line_of_an_error_or_its_type():
    assert first_line(RuntimeError("  bad model\n  at line 3\n")) == "bad model"
    assert first_line(RuntimeError("")) == "RuntimeError"


def test_importing_basics_loads_neither_torch_nor_vapoursynth():
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('basics', sys.argv[1]); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
            "print(sorted({'torch', 'vapoursynth', 'onnxruntime'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code, basics.__file__], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
