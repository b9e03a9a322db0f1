"""training.evaluate: PSNR/SSIM of output and input against sharp frames, per clip and overall, with a report."""
import csv
import json
import re

import numpy as np
import pytest
from plugin_helpers import picker_onnx
from training_helpers import make_checkpoint, make_dataset, panning, texture

from training.evaluate import (by_family, evaluate_onnx, gain_by_input, main, pad_to_multiple, shake_of,
                               split_at_sharp)
from training.export import export_onnx
from vs_dvd import backends
from vs_dvd.network import DBN, DBNConfig

SIZE = (20, 28)  # not multiples of 8: the frames are padded for the model and cropped back


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2)
    return 10 * np.log10(1 / mse)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    clips = {}
    for i in range(3):
        sharp = np.stack([texture(SIZE, seed=10 * i + k) for k in range(3)])
        blurry = (sharp * 0.8).astype(np.uint8) if i < 2 else np.clip(sharp.astype(int) + 1, 0, 255).astype(np.uint8)
        clips[f"c{i}"] = (blurry, sharp, "train" if i == 0 else "val")
    return make_dataset(tmp_path_factory.mktemp("data"), clips)  # c2: input 1 step from sharp, > 35 dB


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    """The untrained residual DBN: output == blurry centre frame."""
    path = tmp_path_factory.mktemp("model") / "identity.onnx"
    export_onnx(DBN(DBNConfig(width=4)), path)
    return path


def test_the_identity_model_gains_nothing_and_the_input_psnr_is_exact(data, identity):
    summary = evaluate_onnx(identity, [data])
    assert [c["clip"] for c in summary["clips"]] == ["c1", "c2"] and summary["frames"] == 6
    blurry, sharp = (np.load(data / "c1" / f"{a}.npy") for a in ("blurry", "sharp"))
    c1 = summary["clips"][0]
    assert c1["input_psnr"] == pytest.approx(np.mean([psnr(b, s) for b, s in zip(blurry, sharp)]), abs=1e-9)
    assert c1["output_psnr"] == pytest.approx(c1["input_psnr"], abs=1e-4)
    assert summary["gain"] == pytest.approx(0, abs=1e-4)
    assert summary["output_ssim"] == pytest.approx(summary["input_ssim"], abs=1e-6) and summary["input_ssim"] < 1


def test_frames_with_sharp_input_are_summarised_apart(data, identity):
    summary = evaluate_onnx(identity, [data])
    assert summary["sharp_input_frames"] == 3  # c2's three frames
    assert summary["gain_on_sharp_input"] == pytest.approx(0, abs=1e-4)
    assert summary["blurry_input_frames"] == 3 and summary["gain_on_blurry_input"] == pytest.approx(0, abs=1e-4)


def test_gains_are_reported_by_input_psnr_band():
    frames = [{"input_psnr": p, "gain": g} for p, g in ((20.0, 3.0), (30.0, 1.0), (35.0, 0.5), (50.0, -2.0))]
    assert gain_by_input(frames) == [
        {"input_from": 0.0, "input_below": 25.0, "frames": 1, "gain": 3.0},
        {"input_from": 25.0, "input_below": 30.0, "frames": 0, "gain": None},
        {"input_from": 30.0, "input_below": 35.0, "frames": 1, "gain": 1.0},
        {"input_from": 35.0, "input_below": 45.0, "frames": 1, "gain": 0.5},
        {"input_from": 45.0, "input_below": None, "frames": 1, "gain": -2.0}]
    assert split_at_sharp(frames) == {"blurry_input_frames": 2, "gain_on_blurry_input": 2.0,
                                      "sharp_input_frames": 2, "gain_on_sharp_input": -0.75}


def test_gains_are_reported_per_camera_family_from_each_frames_recorded_shake():
    meta = {"shakes": [{"family": "walk"}, {"family": "jolt"}]}
    assert [shake_of(meta, k)["family"] for k in (0, 1)] == ["walk", "jolt"]
    assert shake_of({"shake": {"family": "zoom"}}, 3) == {"family": "zoom"} and shake_of({}, 0) == {}
    frames = [{"input_psnr": p, "gain": g, "family": f}
              for p, g, f in ((20.0, 3.0, "walk"), (40.0, 0.0, "walk"), (22.0, 1.0, "jolt"), (30.0, 9.0, None))]
    got = by_family(frames)
    assert sorted(got) == ["jolt", "walk"]
    assert got["walk"]["gain_on_blurry_input"] == 3.0 and got["walk"]["sharp_input_frames"] == 1
    assert got["jolt"]["blurry_input_frames"] == 1 and got["jolt"]["by_input_psnr"][0]["gain"] == 1.0


def test_a_checkpoint_is_exported_in_memory_and_measures_the_same(data, identity, tmp_path):
    checkpoint = make_checkpoint(tmp_path / "run", DBN(DBNConfig(width=4)))
    from_file, from_checkpoint = evaluate_onnx(identity, [data]), evaluate_onnx(checkpoint, [data])
    assert from_checkpoint["output_psnr"] == pytest.approx(from_file["output_psnr"], abs=1e-6)


def test_split_and_limit_choose_the_frames(data, identity):
    summary = evaluate_onnx(identity, [data], split="train", limit=2)
    assert [(c["clip"], c["frames"]) for c in summary["clips"]] == [("c0", 2)]
    with pytest.raises(ValueError, match="no 'test' clips"):
        evaluate_onnx(identity, [data], split="test")


def test_the_cli_writes_the_report_tables_and_the_figure(data, identity, tmp_path, capsys):
    main([str(identity), str(data), "--out", str(tmp_path)])
    assert re.search(r"gain [+-]0\.00 dB", capsys.readouterr().out)
    with open(tmp_path / "frames.csv") as f:
        frames = list(csv.DictReader(f))
    assert len(frames) == 6 and {"clip", "frame", "input_psnr", "output_psnr", "gain", "output_ssim"} <= set(frames[0])
    with open(tmp_path / "clips.csv") as f:
        assert [r["clip"] for r in csv.DictReader(f)] == ["c1", "c2"]
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == 6
    assert "Mean gain" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "gain_vs_input.png").read_bytes()[:4] == b"\x89PNG"


def test_openvino_measures_what_onnx_runtime_measures(data, tmp_path):
    """The runtime of backend='ov', in fp32 and in the precision fp16=True picks on this CPU."""
    if not backends.runtime_version("ov"):
        pytest.skip("OpenVINO is not installed (pip install 'vs-dvd[ov]')")
    path = tmp_path / "random.onnx"
    export_onnx(DBN(DBNConfig(width=4, head="sigmoid")).eval(), path)  # output far from the input
    reference = evaluate_onnx(path, [data])
    assert reference["runtime"].startswith("onnxruntime ") and reference["runtime"].endswith(" (f32)")
    for fp16, tolerance in ((False, 1e-3), (True, 0.05)):
        summary = evaluate_onnx(path, [data], runtime="openvino", fp16=fp16)
        assert summary["runtime"].startswith("openvino ")
        assert abs(summary["output_psnr"] - reference["output_psnr"]) <= tolerance, (fp16, summary["runtime"])
        assert summary["input_psnr"] == reference["input_psnr"]


def test_fp16_is_for_openvino_only(data, identity, capsys):
    with pytest.raises(SystemExit):
        main([str(identity), str(data), "--fp16"])
    assert "--fp16 needs --runtime openvino" in capsys.readouterr().err


def test_padding_mirrors_the_last_rows_and_columns_up_to_a_multiple_of_8():
    x = np.arange(2 * 3 * 10 * 13, dtype=np.float32).reshape(2, 3, 10, 13)
    padded = pad_to_multiple(x)
    assert padded.shape == (2, 3, 16, 16)
    assert np.array_equal(padded[..., :10, :13], x)
    assert np.array_equal(padded[..., 10, :13], x[..., 8, :]) and np.array_equal(padded[..., :10, 13], x[..., :, 11])


def test_a_model_trained_on_aligned_windows_is_fed_aligned_windows(tmp_path):
    frames = np.stack(panning(6, 64, 80))
    data = make_dataset(tmp_path / "data", {"pan": (frames, frames, "val")})
    psnrs = {}
    for align in (None, "dis-fast"):
        summary = evaluate_onnx(picker_onnx(tmp_path / f"{align}.onnx", index=0, align=align), [data],
                                out=tmp_path / str(align))
        assert summary["align"] == align
        with open(tmp_path / str(align) / "frames.csv") as f:  # frames 0 and 1 see themselves as frame k-2
            psnrs[align] = [float(r["output_psnr"]) for r in csv.DictReader(f) if int(r["frame"]) >= 2]
    # frame k-2 as it is, or warped onto frame k: the flow's edges aside, frame k itself
    assert max(psnrs[None]) < 20 and min(psnrs["dis-fast"]) > max(psnrs[None]) + 10, psnrs
