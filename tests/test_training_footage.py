"""training.data.footage: 240-fps footage -> 30-fps clips, each blurry frame the mean of 7 around its target."""
import json

import numpy as np
from training_helpers import moving_point, write_folder, write_video

from training.data.footage import Blur, blur_window, synthesise, windows


def test_a_moving_bright_point_becomes_a_7_sample_streak_around_the_target(tmp_path):
    source = moving_point(16, start=5)  # one white pixel, 1 px right per frame, row 20
    synthesise([write_video(tmp_path / "p.mov", source)], tmp_path / "out", chunk=0)
    blurry, sharp = (np.load(tmp_path / "out" / "p-0000" / f"{a}.npy") for a in ("blurry", "sharp"))
    assert len(blurry) == 2  # targets: source frames 3 and 11
    for k, target in enumerate((3, 11)):
        assert np.array_equal(sharp[k], source[target])
        lit = np.argwhere(blurry[k][..., 0] > 0)
        assert lit[:, 0].tolist() == [20] * 7 and lit[:, 1].tolist() == list(range(target + 2, target + 9))
        assert set(blurry[k][20, target + 2:target + 9, 0].tolist()) == {round(255 / 7)}


def test_linear_light_averages_light_not_code_values():
    black, white = np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8)
    frames = [white, black] * 3 + [white]
    assert blur_window(frames, Blur(linear=False))[0].item(0) == round(255 * 4 / 7)
    srgb = 1.055 * (4 / 7) ** (1 / 2.4) - 0.055  # 4/7 of white's light, in sRGB
    assert blur_window(frames, Blur(linear=True))[0].item(0) == round(255 * srgb) == 199


def test_interpolation_adds_in_between_frames_to_the_average():
    still = [np.full((16, 16, 3), 90, np.uint8)] * 7
    blurry, sharp = blur_window(still, Blur(interpolate=2))
    assert np.abs(blurry.astype(int) - 90).max() <= 1 and sharp is still[3]


def test_a_break_restarts_the_window_count():
    marks = [np.full((1, 1, 3), i, np.uint8) for i in range(20)]
    sequence = marks[:9] + [None] + marks[9:]
    got = [None if w is None else [f.item(0) for f in w] for w in windows(sequence, Blur())]
    assert got == [[0, 1, 2, 3, 4, 5, 6], None, [9, 10, 11, 12, 13, 14, 15]]


def test_a_corrupt_image_ends_the_clip_and_is_counted(tmp_path):
    folder = write_folder(tmp_path / "seq", moving_point(24))
    (folder / "frame10.png").write_bytes(b"corrupt")
    info = synthesise([folder], tmp_path / "out", chunk=0)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert info["skipped_files"] == manifest["skipped_files"] == 1
    assert {name: meta["frames"] for name, meta in manifest["clips"].items()} == {"seq-0000": 1, "seq-0001": 1}
