"""The demo's pieces on tiny clips: the sample taken out of a .deb, the paper's blur with exact
ground truth, vspipe | ffmpeg through core.dvd.Deblur, the scores, and the whole run."""
from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from demo import run
from demo.render import deblur, encode
from demo.report import Scores, side_by_side
from demo.sample import SampleError, extract
from demo.shake import blur, view_size

MEMBER = "usr/share/doc/opencv-doc/examples/data/vtest.avi"


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Random RGB detail of about 2 px, uint8: structure for optical flow and for blur to show."""
    noise = np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    contrast = 0.4 / smooth.std()  # blurring noise flattens it: stretch it back to ~ +-100 codes
    return np.rint((smooth - smooth.mean()) * contrast * 255 + 128).clip(0, 255).astype(np.uint8)


def panning(count: int, height: int = 72, width: int = 96) -> list[np.ndarray]:
    """A scene panning 2 px per frame to the left."""
    scene = texture(height, width + 2 * count)
    return [scene[:, 2 * n:2 * n + width].copy() for n in range(count)]


def view_of(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    vh, vw = view_size(h, w)
    return frame[(h - vh) // 2:(h + vh) // 2, (w - vw) // 2:(w + vw) // 2]


def make_deb(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """A real Debian package holding ``files``, built with dpkg-deb."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: opencv-doc\nVersion: 1.0\nArchitecture: all\nMaintainer: test <t@example.org>\n"
        "Description: test package\n")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    deb = tmp_path / "opencv-doc_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


def test_the_sample_is_copied_out_of_the_package_whole(tmp_path):
    clip = bytes(range(256)) * 1000
    deb = make_deb(tmp_path, {MEMBER: clip, "usr/share/doc/opencv-doc/other.txt": b"x"})
    extract(deb, MEMBER, tmp_path / "vtest.avi")
    assert (tmp_path / "vtest.avi").read_bytes() == clip
    assert not list(tmp_path.glob("*.partial"))


def test_a_package_without_the_sample_says_what_to_do(tmp_path):
    deb = make_deb(tmp_path, {"usr/share/doc/opencv-doc/other.txt": b"x"})
    with pytest.raises(SampleError, match="--video"):
        extract(deb, MEMBER, tmp_path / "vtest.avi")
    assert not (tmp_path / "vtest.avi").exists()


def test_the_camera_sees_the_middle_five_sixths_in_multiples_of_8():
    assert view_size(288, 384) == (240, 320)
    assert view_size(1080, 1920) == (896, 1600)


def test_each_source_frame_but_the_ends_becomes_a_pair_whose_sharp_frame_is_the_source_itself():
    frames = panning(6)
    pairs = list(blur(frames, max_speed=3.0))
    assert len(pairs) == 4
    for k, (blurry, sharp) in enumerate(pairs, start=1):
        assert blurry.shape == sharp.shape == (*view_size(72, 96), 3)
        np.testing.assert_array_equal(sharp, view_of(frames[k]))


def test_a_still_camera_on_a_still_scene_gives_no_blur():
    pairs = list(blur([texture(72, 96)] * 4, max_speed=0.0))
    assert len(pairs) == 2
    for blurry, sharp in pairs:
        assert np.abs(blurry.astype(int) - sharp).max() <= 1  # linear-light round trip


def test_a_shaking_camera_blurs_and_a_steadier_one_blurs_less():
    frames = panning(4)

    def blurry_psnr(max_speed: float) -> float:
        blurry, sharp = (np.stack(clip) for clip in zip(*blur(frames, max_speed)))
        return np.mean(Scores.of(blurry, blurry, sharp).blurry)

    steady, shaky = blurry_psnr(0.5), blurry_psnr(4.0)
    assert shaky < steady < 45


def test_scores_compare_with_the_sharp_frames():
    sharp = np.full((2, 8, 8, 3), 100, np.uint8)
    scores = Scores.of(sharp + 1, sharp + 2, sharp)
    assert scores.blurry == pytest.approx([20 * np.log10(255)] * 2)
    assert scores.gain == pytest.approx(-20 * np.log10(2))
    assert scores.line().endswith(f"gain {scores.gain:+.2f} dB")


def test_side_by_side_is_three_labelled_panels_and_leaves_the_frames_alone():
    frames = [texture(48, 64, seed) for seed in range(3)]
    originals = [f.copy() for f in frames]
    picture = side_by_side(*frames, labels=("blurry", "deblurred", "sharp"))
    assert picture.shape == (48, 192, 3)
    for i, (frame, original) in enumerate(zip(frames, originals)):
        np.testing.assert_array_equal(frame, original)
        assert not np.array_equal(picture[:, 64 * i:64 * (i + 1)], original)  # a label is drawn


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
