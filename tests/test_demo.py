"""The demo's pieces on tiny clips: the sample's fetch, vspipe | ffmpeg through core.dvd.Deblur,
the scores, and the whole run."""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from training_helpers import panning, texture

from demo import figure, run
from demo.render import deblur, encode
from demo.report import Scores, side_by_side, write_image
from demo.sample import SampleError, sample_clip
from training.data.handheld import view_size


def test_a_sample_that_cannot_be_fetched_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get
    with pytest.raises(SampleError, match="apt-get is not available.*pass --video"):
        sample_clip(tmp_path / "cache")
    assert not (tmp_path / "cache" / "vtest.avi").exists()


def test_scores_compare_with_the_sharp_frames():
    sharp = np.full((2, 8, 8, 3), 100, np.uint8)
    scores = Scores.of(sharp + 1, sharp + 2, sharp)
    assert scores.blurry == pytest.approx([20 * np.log10(255)] * 2)
    assert scores.gain == pytest.approx(-20 * np.log10(2))
    assert scores.line().endswith(f"gain {scores.gain:+.2f} dB")


def test_side_by_side_is_three_labelled_panels_and_leaves_the_frames_alone():
    frames = [texture((48, 64), seed) for seed in range(3)]
    originals = [f.copy() for f in frames]
    picture = side_by_side(*frames, labels=("blurry", "deblurred", "sharp"))
    assert picture.shape == (48, 192, 3)
    for i, (frame, original) in enumerate(zip(frames, originals)):
        np.testing.assert_array_equal(frame, original)
        assert not np.array_equal(picture[:, 64 * i:64 * (i + 1)], original)  # a label is drawn


def test_the_figure_crops_one_region_of_each_panel_and_labels_it():
    panels = [texture((48, 64), seed) for seed in range(3)]
    picture = np.concatenate(panels, axis=1)
    out = figure.crop(picture, (8, 4, 40, 36))
    assert out.shape == (36, 120, 3)
    for i, panel in enumerate(panels):
        part = out[:, 40 * i:40 * (i + 1)]
        np.testing.assert_array_equal(part[-10:], panel[30:40, 8:48])  # below the label: the panel's own pixels
        assert not np.array_equal(part, panel[4:40, 8:48])  # a label is drawn


def test_a_figure_crop_outside_the_panels_is_refused():
    with pytest.raises(ValueError, match=r"does not fit in panels of 64x48"):
        figure.crop(np.zeros((48, 192, 3), np.uint8), (32, 0, 40, 36))


def test_images_are_written_as_their_suffix_says(tmp_path):
    image = texture((48, 64), 0)
    write_image(image, tmp_path / "a.png")
    write_image(image, tmp_path / "a.jpg")
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "a.png"))[..., ::-1], image)  # lossless
    assert (tmp_path / "a.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.png"]  # no temporary file left


def test_vspipe_and_ffmpeg_deblur_into_a_video_and_return_the_exact_frames(tmp_path, identity_path):
    blurry = np.stack(panning(5, 48, 64))
    deblurred = deblur(blurry, Fraction(10), tmp_path / "out.mp4", tmp_path / "work", identity_path,
                       progress=False)
    np.testing.assert_array_equal(deblurred, blurry)  # the identity model, frame by frame
    with av.open(str(tmp_path / "out.mp4")) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (48, 64, 3)

    def luma(frames) -> np.ndarray:  # H.264's 4:2:0 halves the chroma resolution
        return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[..., None] for f in frames])

    assert np.mean(Scores.of(luma(blurry), luma(decoded), luma(blurry)).deblurred) > 30  # lossy, same picture


def test_the_demo_runs_end_to_end_on_a_tiny_video(tmp_path, identity_path, capsys):
    video = tmp_path / "tiny.mp4"
    encode(np.stack(panning(8, 72, 96)), Fraction(10), video)
    out = tmp_path / "out"
    assert run.main(["--video", str(video), "--start", "1", "--frames", "4", "--size", "96",
                     "--model", str(identity_path), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"deblurred.mp4", "side_by_side.mp4", "side_by_side.png"}
    assert cv2.imread(str(out / "side_by_side.png")).shape == (*(np.array(view_size(72, 96)) * [1, 3]), 3)
    assert capsys.readouterr().out.splitlines()[-1].endswith("gain +0.00 dB")


def test_the_demo_explains_a_video_too_short_for_the_frames_asked(tmp_path, capsys):
    video = tmp_path / "tiny.mp4"
    encode(np.stack(panning(3, 72, 96)), Fraction(10), video)
    assert run.main(["--video", str(video), "--frames", "4", "--out", str(tmp_path / "out")]) == 1
    assert "fewer than 6 readable frames" in capsys.readouterr().err
