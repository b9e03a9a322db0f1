"""training.data.photos: a still photo shaken along a virtual 240-fps camera path, then averaged like footage."""
import json

import cv2
import numpy as np
import pytest
from training_helpers import texture

from training.data.motion import Shake, tremor
from training.data.photos import (EXPOSURE, STEP, ShakeConfig, exposure_times, linear_to_srgb, main,
                                  srgb_to_linear, synthesise, synthesise_clip)


def test_every_8th_virtual_frame_is_sharp_and_the_7_around_it_are_averaged():
    assert exposure_times({}).tolist() == [-3, -2, -1, 0, 1, 2, 3]  # the 7 frames centred on the sharp one
    assert EXPOSURE == 7 and STEP == 8


def test_the_tremor_path_moves_at_one_px_rms_per_virtual_frame():
    path = tremor(200, np.random.default_rng(0))
    speed = np.sqrt((np.diff(path[:, :2], axis=0) ** 2).sum(1).mean())
    assert abs(speed - 1.0) < 1e-9


def test_srgb_and_linear_light_round_trip():
    x = np.linspace(0, 1, 101)
    assert np.allclose(linear_to_srgb(srgb_to_linear(x)), x)


def test_a_static_clip_is_sharp_and_a_shaken_one_is_blurry():
    photo = texture((96, 96), seed=1).astype(np.float32) / 255
    still = synthesise_clip(photo, ShakeConfig(frames=3, size=64, shake=Shake(static_share=1.0)), np.random.default_rng(0))
    shaken = synthesise_clip(photo, ShakeConfig(frames=3, size=64, shake=Shake(static_share=0.0, max_speed=4.0)),
                             np.random.default_rng(1))
    for blurry, sharp, _ in (still, shaken):
        assert blurry.shape == sharp.shape == (3, 64, 64, 3) and blurry.dtype == np.uint8
    difference = [np.abs(b.astype(int) - s.astype(int)).mean() for b, s, _ in (still, shaken)]
    assert difference[0] < 1.0 < difference[1]


def test_an_unreadable_photo_is_skipped_and_counted(tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.jpg"
    cv2.imwrite(str(good), texture((80, 80)))
    bad.write_bytes(b"not a jpeg")
    info = synthesise([("good", good, "train"), ("bad", bad, "val")], tmp_path / "out", 2,
                      ShakeConfig(frames=2, size=64))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert info["skipped_files"] == 1 and sorted(manifest["clips"]) == ["good-0000", "good-0001"]
    assert manifest["clips"]["good-0000"]["frames"] == 2


def test_name_gives_one_photos_clips_and_random_draws_another_name(tmp_path):
    photo = tmp_path / "2560x1440.png"
    cv2.imwrite(str(photo), texture((96, 96), seed=3))
    common = ["--clips-per-photo", "1", "--frames", "2", "--size", "64"]
    main([str(photo), "-o", str(tmp_path / "a"), "--name", "Kite", *common])
    (tmp_path / "Kite.png").write_bytes(photo.read_bytes())
    main([str(tmp_path / "Kite.png"), "-o", str(tmp_path / "b"), *common])
    assert (tmp_path / "a" / "Kite-0000").is_dir()
    for array in ("blurry.npy", "sharp.npy"):  # as if the file had been called Kite
        assert np.array_equal(np.load(tmp_path / "a" / "Kite-0000" / array), np.load(tmp_path / "b" / "Kite-0000" / array))
    with pytest.raises(SystemExit):
        main([str(photo), str(tmp_path / "Kite.png"), "-o", str(tmp_path / "c"), "--name", "Kite"])
