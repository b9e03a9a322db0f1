"""training.data.handheld: ordinary footage densified by optical flow and shaken by a virtual hand-held camera."""
import json

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio
from training_helpers import panning, texture, write_folder, write_video

from training import corpus
from training.data.handheld import Camera, blur, exposures, main, synthesise, view_size
from training.data.motion import Shake

STILL = Camera(Shake(max_speed=0.0, static_share=0.0))


def view_of(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    vh, vw = view_size(h, w)
    return frame[(h - vh) // 2:(h + vh) // 2, (w - vw) // 2:(w + vw) // 2]


def clip(root, name):
    return tuple(np.load(root / name / f"{part}.npy") for part in ("blurry", "sharp"))


def test_the_camera_sees_the_middle_five_sixths_in_multiples_of_8():
    assert view_size(288, 384) == (240, 320)
    assert view_size(1080, 1920) == (896, 1600)
    with pytest.raises(ValueError, match="too small to shake"):
        view_size(8, 64)


def test_each_source_frame_but_the_ends_becomes_a_pair_whose_sharp_frame_is_the_source_itself():
    frames = panning(6)
    pairs = list(blur(frames, Camera(Shake(max_speed=3.0, static_share=0.0))))
    assert len(pairs) == 4
    for k, (blurry, sharp, _) in enumerate(pairs, start=1):
        assert blurry.shape == sharp.shape == (*view_size(72, 96), 3)
        np.testing.assert_array_equal(sharp, view_of(frames[k]))


def test_a_still_camera_on_a_still_scene_gives_no_blur():
    pairs = list(blur([texture((72, 96))] * 4, STILL))
    assert len(pairs) == 2
    for blurry, sharp, _ in pairs:
        assert np.abs(blurry.astype(int) - sharp).max() <= 1  # linear-light round trip


def test_a_shaking_camera_blurs_and_a_steadier_one_blurs_less():
    frames = panning(4)

    def blurry_psnr(max_speed: float) -> float:
        pairs = blur(frames, Camera(Shake(max_speed=max_speed, static_share=0.0)))
        return np.mean([peak_signal_noise_ratio(sharp, blurry) for blurry, sharp, _ in pairs])

    steady, shaky = blurry_psnr(0.5), blurry_psnr(4.0)
    assert shaky < steady < 45


def test_a_break_ends_a_run_and_each_run_loses_its_first_and_last_frame():
    frames = panning(9)
    got = [e is None for e in exposures(frames[:4] + [None] + frames[4:])]
    assert got == [False, False, True, False, False, False]


def test_clips_hold_the_shaken_pairs_and_the_manifest_records_the_source(tmp_path):
    video = write_video(tmp_path / "pan.mov", panning(7), fps=30)
    info = synthesise([video], tmp_path / "out", Camera(Shake(max_speed=2.0, static_share=0.0)), chunk=3,
                      split="val", licence="CC0")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {n: m["frames"] for n, m in manifest["clips"].items()} == {"pan-0000": 3, "pan-0001": 2}
    assert {m["split"] for m in manifest["clips"].values()} == {"val"}
    assert manifest["sources"] == info["sources"] == [
        {"name": "pan", "path": str(video), "split": "val", "licence": "CC0"}]
    blurry, sharp = clip(tmp_path / "out", "pan-0000")
    np.testing.assert_array_equal(sharp[0], view_of(panning(7)[1]))
    assert (blurry != sharp).any()


def test_the_shake_of_a_frame_depends_on_seed_name_and_index_alone(tmp_path):
    frames = panning(6)
    camera = Camera(Shake(max_speed=3.0, static_share=0.0))
    synthesise([write_folder(tmp_path / "a", frames)], tmp_path / "whole", camera, chunk=2)
    synthesise([write_folder(tmp_path / "a", frames)], tmp_path / "resumed", camera, chunk=2)
    (tmp_path / "resumed" / ".a.done.json").unlink()  # a run cut after its first clip
    for name in ("a-0001", "a-0000"):
        for path in (tmp_path / "resumed" / name).iterdir():
            path.unlink()
        (tmp_path / "resumed" / name).rmdir()
        synthesise([tmp_path / "a"], tmp_path / "resumed", camera, chunk=2)
    synthesise([write_folder(tmp_path / "b", frames)], tmp_path / "other", camera, chunk=2)
    for name in ("0000", "0001"):
        np.testing.assert_array_equal(clip(tmp_path / "whole", f"a-{name}")[0],
                                      clip(tmp_path / "resumed", f"a-{name}")[0])
    assert (clip(tmp_path / "whole", "a-0000")[0] != clip(tmp_path / "other", "b-0000")[0]).any()


def test_the_cli_refuses_a_source_too_small_to_shake(tmp_path, capsys):
    video = write_video(tmp_path / "tiny.mov", [texture((8, 8))] * 4, fps=30)
    with pytest.raises(SystemExit):
        main([str(video), "-o", str(tmp_path / "out")])
    assert "too small to shake" in capsys.readouterr().err


def test_the_cli_refuses_sources_and_corpus_clip_names_together(tmp_path, capsys):
    video = write_video(tmp_path / "pan.mov", panning(6), fps=30)
    with pytest.raises(SystemExit):
        main([str(video), "-o", str(tmp_path / "out"), "--clips", "cup"])
    assert "either SRC files or --clips" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_cli_shakes_only_the_corpus_clips_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(corpus, "DEFAULT_DIR", tmp_path / "corpus")
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get: the clips not cached are skipped
    for name in ("box", "cup"):
        (tmp_path / "corpus" / "opencv-doc").mkdir(parents=True, exist_ok=True)
        write_video(tmp_path / "corpus" / "opencv-doc" / f"{name}.mp4", panning(6), fps=30)
    main(["-o", str(tmp_path / "out"), "--split", "train", "--clips", "cup", "--chunk", "0"])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["sources"]] == ["cup"]
    assert manifest["sources"][0]["licence"] == corpus.DEBIAN_CLIPS["opencv-doc"][0]
    with pytest.raises(SystemExit):
        main(["-o", str(tmp_path / "out"), "--split", "train", "--clips", "cup", "tree"])
    assert "no corpus clip tree in split train" in capsys.readouterr().err
