"""training.data.motion and degrade: camera-motion families, blur lengths, exposures, noise and compression."""
import numpy as np
import pytest
from training_helpers import texture

from training.data import degrade, motion
from training.data.motion import FAMILIES, Shake, displacement, draw, homographies
from training.data.photos import ShakeConfig, synthesise_clip

HALF = (96.0, 96.0)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_moves_the_view_at_the_drawn_speed_centred_on_the_middle_frame(family):
    shake = Shake(families=(family,), exposures=(9,), max_speed=8.0, max_blur=40.0, static_share=0.0)
    path, params = draw(shake, 81, HALF, np.random.default_rng(5))
    maps = homographies(path, params["focal"])
    assert params["family"] == family and params["exposure"] == 9
    assert displacement(maps, HALF) == pytest.approx(params["speed"], rel=0.05)
    np.testing.assert_allclose(maps[40], np.eye(3), atol=1e-9)


def test_the_blur_length_stays_within_max_blur_and_max_speed():
    shake = Shake(families=tuple(FAMILIES), exposures=(3, 15), max_speed=8.0, max_blur=40.0, static_share=0.0)
    for seed in range(40):
        _, p = draw(shake, 64, HALF, np.random.default_rng(seed))
        assert p["speed"] <= 8.0 and p["speed"] * (p["exposure"] - 1) <= 40.0 + 1e-6


def test_only_the_families_and_exposures_asked_for_are_drawn():
    shake = Shake(families=("jolt", "zoom"), exposures=(5, 13), static_share=0.0)
    drawn = {(p["family"], p["exposure"]) for p in (draw(shake, 32, HALF, np.random.default_rng(s))[1] for s in range(60))}
    assert drawn == {("jolt", 5), ("jolt", 13), ("zoom", 5), ("zoom", 13)}


def test_unknown_families_and_even_exposures_are_refused():
    with pytest.raises(ValueError, match="unknown: choose from"):
        Shake(families=("drone",))
    with pytest.raises(ValueError, match="odd number"):
        Shake(exposures=(8,))


def test_a_fast_camera_smears_instead_of_leaving_ghosts():
    photo = texture((160, 160), seed=2).astype(np.float32) / 255
    shake = Shake(families=("jolt",), exposures=(3,), max_speed=8.0, max_blur=16.0, static_share=0.0)
    rng = np.random.default_rng(0)
    blurry, sharp, params = synthesise_clip(photo, ShakeConfig(frames=2, size=96, shake=shake), rng)
    assert params["substeps"] >= params["speed"] > 1
    assert blurry.shape == sharp.shape == (2, 96, 96, 3) and (blurry != sharp).any()


def test_noise_and_compression_change_only_the_blurry_frames():
    photo = texture((160, 160), seed=4).astype(np.float32) / 255
    still = dict(static_share=1.0, families=("tremor", "walk"), exposures=(7,))
    clean = synthesise_clip(photo, ShakeConfig(frames=2, size=64, shake=Shake(**still)), np.random.default_rng(1))
    dirty = synthesise_clip(photo, ShakeConfig(frames=2, size=64, shake=Shake(**still, noise_share=1.0, compress_share=1.0)),
                            np.random.default_rng(1))
    assert {"shot", "read", "crf"} <= set(dirty[2])
    np.testing.assert_array_equal(clean[1], dirty[1])
    assert np.abs(dirty[0].astype(int) - clean[0]).mean() > np.abs(clean[0].astype(int) - clean[1]).mean()


def test_h264_compression_keeps_the_frame_close_but_not_identical():
    frame = texture((64, 80), seed=7)
    out = degrade.compress(frame, 28)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert 0 < np.abs(out.astype(int) - frame).mean() < 20


def test_the_default_shake_is_the_tremor_draw_of_earlier_releases():
    assert Shake().legacy and not Shake(families=("tremor", "jolt")).legacy
    _, params = draw(Shake(), 71, HALF, np.random.default_rng(0))
    assert set(params) == {"family", "speed"} and motion.EXPOSURES[0] == 3
