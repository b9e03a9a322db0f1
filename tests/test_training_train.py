"""training.train: the loop learns, checkpoints resume exactly, and DDP runs on the CPU through gloo."""
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from plugin_helpers import dbn_onnx
from training_helpers import make_dataset, texture

from training.checkpoint import load_model
from training import train as train_module
from training.train import fitted_iters, loss_fn, lr_factor, main, parse_args
from vs_dvd.network import DBN, with_gate

ROOT = Path(__file__).resolve().parents[1]

TINY = ["--width", "4", "--batch", "2", "--crop", "16", "--workers", "0", "--threads", "1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Clips whose 'blur' is a darkening: a degradation a width-4 DBN learns in a few dozen steps."""
    clips = {}
    for i in range(3):
        sharp = np.stack([texture((40, 40), seed=10 * i + k) for k in range(4)])
        clips[f"c{i}"] = ((sharp * 0.6).astype(np.uint8), sharp, "val" if i == 2 else "train")
    return make_dataset(tmp_path_factory.mktemp("data"), clips)


@pytest.fixture
def train(caplog, monkeypatch):
    """``train(*args, log_every=1)`` runs training.train.main here; returns the logged (step, loss) pairs."""
    handler, threads = signal.getsignal(signal.SIGTERM), torch.get_num_threads()
    caplog.set_level(logging.INFO, logger="training.train")

    def run(*args, log_every=1):
        caplog.clear()
        monkeypatch.setattr(train_module, "LOG_EVERY", log_every)
        main([str(a) for a in args])
        return [r.args[:2] for r in caplog.records if r.msg.startswith("step %d loss")]

    yield run
    signal.signal(signal.SIGTERM, handler)
    torch.set_num_threads(threads)


def test_paper_sets_the_sigmoid_head_and_halves_the_rate_every_8k_steps_after_24k():
    args = parse_args(["--data", "d", "--out", "o", "--paper"])
    assert (args.head, args.lr, args.iters, args.batch, args.loss) == ("sigmoid", 0.005, 80_000, 64, "mse")
    assert [lr_factor(s, args) for s in (0, 23_999, 24_000, 31_999, 32_000, 40_000)] == \
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]


def test_flags_given_beside_paper_override_it():
    args = parse_args(["--data", "d", "--out", "o", "--lr", "0.001", "--paper", "--schedule", "cosine"])
    assert (args.head, args.lr, args.schedule) == ("sigmoid", 0.001, "cosine")


def test_without_paper_the_head_is_residual_and_the_schedule_cosine():
    args = parse_args(["--data", "d", "--out", "o", "--warmup", "10", "--iters", "110"])
    assert (args.head, args.schedule) == ("residual", "cosine")
    assert [round(lr_factor(s, args), 3) for s in (0, 9, 10, 60, 110)] == [0.1, 1.0, 1.0, 0.51, 0.02]


def test_a_short_run_lowers_the_loss(data, tmp_path, train, caplog):
    losses = train("--data", data, "--out", tmp_path, *TINY, "--batch", "4", "--crop", "32",
                   "--iters", "60", "--warmup", "5", "--val-every", "30", log_every=10)
    assert [step for step, _ in losses] == [10, 20, 30, 40, 50, 60]
    assert losses[-1][1] < losses[0][1] / 5
    assert any("validation" in r.getMessage() for r in caplog.records)


def test_the_psnr_loss_is_minus_the_mean_psnr_of_the_samples():
    target = torch.zeros(2, 3, 4, 4)
    out = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.01)])  # 20 dB and 40 dB
    assert loss_fn(out, target, "psnr").item() == pytest.approx(-30.0, abs=1e-3)
    assert loss_fn(out, target, "mse").item() == pytest.approx((0.01 + 0.0001) / 2)
    assert loss_fn(target, target, "psnr").item() == pytest.approx(-80.0)  # exact output: finite, at the floor


def test_a_psnr_ceiling_caps_what_nearly_exact_samples_weigh_in_the_gradient():
    target = torch.zeros(2, 3, 4, 4)
    out = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.001)])  # 20 dB and 60 dB

    def gradient_norms(ceiling: float) -> list[float]:
        x = out.clone().requires_grad_()
        loss_fn(x, target, "psnr", ceiling).backward()
        return x.grad.flatten(1).norm(dim=1).tolist()

    blurry, exact = gradient_norms(80.0)
    assert exact > 50 * blurry  # uncapped, the 60 dB sample pulls 100x harder than the 20 dB one
    blurry, exact = gradient_norms(30.0)
    assert exact < 0.2 * blurry  # capped at 30 dB, it pulls less
    assert loss_fn(target, target, "psnr", 40.0).item() == pytest.approx(-40.0)


@pytest.mark.parametrize("extra, message", [(["--psnr-ceiling", "40"], "--loss psnr"),
                                            (["--loss", "psnr", "--psnr-ceiling", "0"], "above 0")])
def test_psnr_ceiling_is_checked(capsys, extra, message):
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", *extra])
    assert message in capsys.readouterr().err


def test_the_psnr_loss_with_batches_cut_on_the_device_lowers_the_loss(data, tmp_path, train):
    losses = train("--data", data, "--out", tmp_path, *TINY, "--batch", "4", "--crop", "32",
                   "--iters", "40", "--warmup", "5", "--val-every", "0", "--loss", "psnr", "--data-on-device",
                   log_every=10)
    assert losses[-1][1] < losses[0][1] - 3  # dB


def test_a_checkpoint_holds_weights_optimizer_schedule_and_config(data, tmp_path, train):
    train("--data", data, "--out", tmp_path, *TINY, "--iters", "6", "--ckpt-every", "2",
          "--val-every", "0")
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-0000004", "step-0000006"]  # two kept
    assert (tmp_path / "latest").read_text() == "step-0000006"
    checkpoint = tmp_path / "step-0000006"
    state = torch.load(checkpoint / "state.pt", weights_only=True)
    assert state["step"] == 6 and state["scheduler"]["last_epoch"] == 6 and "rng" in state
    assert state["optimizer"]["state"][0]["step"] == 6
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["model"] == {"name": "DBN", "width": 4, "head": "residual", "gate": False, "folded": False}
    assert config["args"]["iters"] == 6
    model = load_model(checkpoint)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in load_file(checkpoint / "model.safetensors").items())


def test_resuming_gives_the_same_weights_as_an_uninterrupted_run(data, tmp_path, train):
    common = ["--data", data, *TINY, "--ckpt-every", "3", "--val-every", "0"]  # bf16 on CPUs that have it
    straight = train(*common, "--out", tmp_path / "a", "--iters", "6")
    first = train(*common, "--out", tmp_path / "b", "--iters", "3")
    second = train(*common, "--out", tmp_path / "b", "--iters", "6", "--resume")
    assert first + second == straight
    a = load_file(tmp_path / "a" / "step-0000006" / "model.safetensors")
    b = load_file(tmp_path / "b" / "step-0000006" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_takes_the_network_from_the_checkpoint_whatever_the_flags(data, tmp_path, train):
    train("--data", data, "--out", tmp_path, *TINY, "--iters", "1", "--val-every", "0")
    train("--data", data, "--out", tmp_path, *TINY, "--width", "8", "--paper", "--iters", "2", "--resume")
    resumed = load_model(tmp_path / "step-0000002")
    assert (resumed.config.width, resumed.config.head, resumed.folded) == (4, "residual", False)


def test_resume_continues_a_checkpoint_whose_settings_name_flags_since_dropped(data, tmp_path, train):
    """Runs started before --amp, --device, --head, --lr-start, --lr-every, --val-samples and --log-every went."""
    train("--data", data, "--out", tmp_path, *TINY, "--iters", "2", "--val-every", "0")
    config = tmp_path / "step-0000002" / "config.json"
    saved = json.loads(config.read_text())
    for new in ("paper", "config"):
        del saved["args"][new]
    saved["args"].update(amp="auto", device="auto", head="residual", lr_start=24_000, lr_every=8_000, val_samples=64,
                         log_every=25)
    config.write_text(json.dumps(saved))
    train("--data", data, "--out", tmp_path, *TINY, "--iters", "3", "--val-every", "0", "--resume")
    assert torch.load(tmp_path / "step-0000003" / "state.pt", weights_only=True)["step"] == 3


def test_init_fine_tunes_an_exported_model_from_its_own_weights(data, tmp_path, train):
    """--init, no learning, export: the same network as the model it started from."""
    from plugin_helpers import pattern, run_onnx

    from training.export import export_onnx

    start = dbn_onnx(tmp_path / "start.onnx", width=4)  # random weights and BatchNorm statistics
    train("--data", data, "--out", tmp_path / "run", "--init", start, *TINY, "--iters", "2",
          "--lr", "0", "--val-every", "0")
    config = json.loads((tmp_path / "run" / "step-0000002" / "config.json").read_text())
    assert config["model"] == {"name": "DBN", "width": 4, "head": "residual", "gate": False, "folded": True}
    export_onnx(load_model(tmp_path / "run" / "step-0000002"), tmp_path / "again.onnx")
    frames = [pattern(n, 16, 24) for n in range(5)]
    assert np.abs(run_onnx(tmp_path / "again.onnx", frames) - run_onnx(start, frames)).max() <= 1e-5
    train("--data", data, "--out", tmp_path / "run", *TINY, "--iters", "3", "--resume")  # --init left out
    assert load_model(tmp_path / "run" / "step-0000003").folded


def test_gate_trains_the_gate_alone_and_resumes_only_as_a_gated_run(data, tmp_path, train):
    start = dbn_onnx(tmp_path / "start.onnx", width=4)
    train("--data", data, "--out", tmp_path / "run", "--init", start, "--gate", *TINY,
          "--iters", "3", "--lr", "0.01", "--val-every", "0")
    gated = load_model(tmp_path / "run" / "step-0000003")
    before = with_gate(DBN.from_onnx(start)).state_dict()
    after = gated.state_dict()
    assert gated.config.gate and set(after) == set(before)
    changed = {name for name in after if not torch.equal(after[name], before[name])}
    assert changed and all(name.startswith("gate.") for name in changed)
    train("--data", data, "--out", tmp_path / "run", "--init", start, *TINY, "--iters", "4", "--resume")  # no --gate
    resumed = load_model(tmp_path / "run" / "step-0000004").state_dict()
    assert all(torch.equal(resumed[name], after[name]) for name in after if not name.startswith("gate."))


def test_a_gated_model_without_gate_trains_whole_and_resumes_only_so(data, tmp_path, train):
    start = dbn_onnx(tmp_path / "gated.onnx", width=4, gate=True)
    args = ["--data", data, "--out", tmp_path / "run", "--init", start, *TINY, "--lr", "0.01",
            "--val-every", "0"]
    train(*args, "--iters", "3")
    before, after = DBN.from_onnx(start).state_dict(), load_model(tmp_path / "run" / "step-0000003")
    changed = {name for name, value in after.state_dict().items() if not torch.equal(value, before[name])}
    assert after.config.gate and any(n.startswith("gate.") for n in changed) and any(n.startswith("F") for n in changed)
    train(*args, "--gate", "--iters", "4", "--resume")  # the run trains the whole network: --gate is ignored
    resumed = load_model(tmp_path / "run" / "step-0000004").state_dict()
    assert any(not torch.equal(resumed[n], after.state_dict()[n]) for n in resumed if n.startswith("F"))


def test_gate_needs_a_trained_dbn_to_gate(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", "--gate"])
    assert "--gate trains a gate on a trained DBN: pass --init MODEL.onnx" in capsys.readouterr().err


def test_init_refuses_what_is_not_an_exported_dbn(data, tmp_path, train):
    with pytest.raises(SystemExit, match="--init .*missing.onnx is not a file"):
        train("--data", data, "--out", tmp_path / "a", "--init", tmp_path / "missing.onnx", *TINY)
    from plugin_helpers import conv_onnx
    with pytest.raises(SystemExit, match="--init: model .* has no sidecar .*, which says which network it holds; "
                                         "pass an .onnx model exported by training.export, or train from scratch"):
        train("--data", data, "--out", tmp_path / "b", "--init", conv_onnx(tmp_path / "conv.onnx"), *TINY)


def test_two_gloo_processes_train_together_on_the_cpu(data, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "training.train", "--data", str(data), "--out", str(tmp_path), *TINY,
         "--iters", "4", "--val-every", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})  # gloo on the CPU, even where a GPU is
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "latest").read_text() == "step-0000004"
    weights = load_file(tmp_path / "step-0000004" / "model.safetensors")
    assert all(torch.isfinite(v.float()).all() for v in weights.values())
    assert weights["F6_2.bn.weight"].abs().sum() > 0  # trained away from the identity initialisation


def test_a_time_limit_stops_early_with_a_checkpoint_to_resume_from(data, tmp_path, train, caplog):
    train("--data", data, "--out", tmp_path, *TINY, "--iters", "1000", "--ckpt-every", "1000",
          "--val-every", "0", "--time-limit", "1e-9")
    assert (tmp_path / "latest").read_text() == "step-0000001"  # one step, then the deadline had passed
    assert torch.load(tmp_path / "step-0000001" / "state.pt", weights_only=True)["step"] == 1
    assert any("continue with --resume" in r.getMessage() for r in caplog.records)


def test_fitted_iters_ends_the_schedule_at_the_deadline_within_bounds():
    assert fitted_iters(100, rate=10.0, seconds_left=50.0, cap=10_000) == 100 + 490  # 2 % kept back
    assert fitted_iters(100, rate=10.0, seconds_left=50.0, cap=300) == 300
    assert fitted_iters(100, rate=10.0, seconds_left=-1.0, cap=300) == 101


def test_sharp_frames_is_a_probability(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", "--sharp-frames", "20"])
    assert "--sharp-frames: a probability between 0 and 1, not 20.0" in capsys.readouterr().err


def test_fit_time_limit_needs_a_time_limit_and_the_cosine_schedule(capsys):
    for extra in ([], ["--schedule", "cosine"], ["--time-limit", "5", "--paper"]):
        with pytest.raises(SystemExit):
            parse_args(["--data", "d", "--out", "o", "--fit-time-limit", *extra])
        assert "--fit-time-limit needs --time-limit" in capsys.readouterr().err


def test_fit_time_limit_ends_the_cosine_at_the_deadline_instead_of_cutting_it(data, tmp_path, train, caplog):
    train("--data", data, "--out", tmp_path, *TINY, "--iters", "1000000", "--schedule", "cosine",
          "--warmup", "2", "--ckpt-every", "1000000", "--val-every", "0", "--time-limit", str(6 / 60),
          "--fit-time-limit")
    checkpoint = tmp_path / (tmp_path / "latest").read_text()
    step = torch.load(checkpoint / "state.pt", weights_only=True)["step"]
    args = parse_args(["--data", "d", "--out", "o", "--schedule", "cosine", "--warmup", "2",
                       "--iters", str(json.loads((checkpoint / "config.json").read_text())["args"]["iters"])])
    assert 10 < step <= args.iters < 1_000_000
    assert lr_factor(step, args) < 0.25  # near the end of the cosine: without the fit it would be at 1.0
    assert any("the schedule ends at step" in r.getMessage() for r in caplog.records)


PHASES = sorted((ROOT / "training" / "recipes" / "phases").glob("*.toml"))


@pytest.mark.parametrize("phase", PHASES, ids=lambda p: p.stem)
def test_every_recipe_phase_parses_into_valid_train_arguments(phase):
    args = parse_args(["--config", str(phase)])
    for key, value in tomllib.loads(phase.read_text()).items():
        if key != "data":
            assert getattr(args, key.replace("-", "_")) == (Path(value) if key in ("init", "out") else value), key


def test_the_recipes_run_every_phase_file_and_only_those():
    recipes = ROOT / "training" / "recipes"
    bundled = re.findall(r"^(?:.*; )?phase (\S+)", (recipes / "bundled_model.sh").read_text(), re.M)
    on_a_device = re.findall(r"--config \S*/phases/(\S+)\.toml", (recipes / "device.sh").read_text())
    assert sorted(bundled + on_a_device) == [p.stem for p in PHASES]


def test_flags_after_a_config_override_it_and_data_globs_are_expanded(tmp_path, monkeypatch):
    for name in ("b", "a", "c"):
        (tmp_path / "photos" / name).mkdir(parents=True)
    (tmp_path / "phase.toml").write_text('data = ["photos/*", "clips"]\nout = "run"\nlr = 1e-3\n'
                                         'resume = true\nsharp-frames = 0.1\n')
    monkeypatch.chdir(tmp_path)
    args = parse_args(["--config", "phase.toml", "--lr", "2e-3", "--no-resume"])
    assert args.data == [Path("photos/a"), Path("photos/b"), Path("photos/c"), Path("clips")]
    assert (args.out, args.lr, args.resume, args.sharp_frames) == (Path("run"), 2e-3, False, 0.1)


def test_a_config_setting_that_is_no_flag_is_refused_naming_the_file(tmp_path, capsys):
    (tmp_path / "phase.toml").write_text('data = ["d"]\nout = "o"\nhead = "sigmoid"\n')
    with pytest.raises(SystemExit):
        parse_args(["--config", str(tmp_path / "phase.toml")])
    assert f"--config {tmp_path / 'phase.toml'}: 'head' is not a setting of training.train" in capsys.readouterr().err
