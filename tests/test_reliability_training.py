"""Reliability, training faults (issue #6, item 2): a training process killed with SIGKILL inside a
checkpoint write, or stopped by a full disk there, leaves the last complete checkpoint in place, and
``--resume`` then ends with exactly the weights of a run that was never interrupted; a dataset
synthesis killed half-way resumes without touching the videos it had finished."""
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from training_helpers import make_checkpoint, make_dataset, moving_point, texture, trained_like, write_video

from training import checkpoint as checkpoints, train
from training.data import footage
from vs_dvd.network import DBN, DBNConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--width", "4", "--batch", "2", "--crop", "16", "--workers", "0", "--threads", "1", "--ckpt-every", "2",
        "--val-every", "0", "--iters", "8"]
KILLED_AT = 6  # the checkpoint write that is interrupted; 2 and 4 are complete by then

# Run training.train in this subprocess and SIGKILL it at the ``nth`` call of ``module.attr`` made
# while the checkpoint of step ``at`` is being written.
KILLER = textwrap.dedent("""
    import os, shutil, signal, sys
    import torch
    from training import checkpoint, train

    module, attr, nth, at, *argv = sys.argv[1:]
    module = {"os": os, "shutil": shutil, "torch": torch}[module]
    original, save, calls = getattr(module, attr), checkpoint.save, []

    def killing(*args, **kwargs):
        if calls and calls[0] == int(at):
            calls.append(attr)
            if len(calls) - 1 == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    def saving(out, model, opt, sched, step, args):
        calls[:] = [step]
        return save(out, model, opt, sched, step, args)

    setattr(module, attr, killing)
    checkpoint.save = saving
    train.main(argv)
""")

# Each moment of a checkpoint write: (what is called there, which call, what is on disk when it dies)
KILL_POINTS = {
    "weights written, optimizer state not": ("torch", "save", 1),
    "folder complete, not yet renamed": ("os", "replace", 1),
    "folder renamed, 'latest' not yet": ("os", "replace", 2),
    "'latest' updated, old folder half pruned": ("os", "unlink", 2),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    clips = {}
    for i in range(2):
        sharp = np.stack([texture((32, 32), seed=10 * i + k) for k in range(3)])
        clips[f"c{i}"] = ((sharp * 0.6).astype(np.uint8), sharp, "train")
    return make_dataset(tmp_path_factory.mktemp("data"), clips)


def train_here(*args) -> None:
    """training.train.main in this process, leaving its global settings as they were."""
    handler, threads = signal.getsignal(signal.SIGTERM), torch.get_num_threads()
    logging.getLogger("training.train").setLevel(logging.WARNING)
    try:
        train.main([str(a) for a in args])
    finally:
        signal.signal(signal.SIGTERM, handler)
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    """The weights at step 8 of a run that nothing disturbed."""
    out = tmp_path_factory.mktemp("straight")
    train_here("--data", data, "--out", out, *TINY)
    return load_file(out / "step-0000008" / "model.safetensors")


def run_training(*args, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, preexec_fn=preexec_fn, env={**os.environ, "PYTHONPATH": str(ROOT)})


def assert_latest_is_complete(out, steps) -> int:
    """``latest`` names a checkpoint with readable weights, state and config; returns its step."""
    newest = checkpoints.latest(out)
    assert newest is not None and newest.name in {f"step-{s:07d}" for s in steps}
    checkpoints.load_model(newest)  # weights (safetensors) and config.json
    state = torch.load(newest / "state.pt", weights_only=True)
    assert f"step-{state['step']:07d}" == newest.name
    return state["step"]


def assert_same_weights(out, reference):
    weights = load_file(out / "step-0000008" / "model.safetensors")
    assert weights.keys() == reference.keys()
    assert all(torch.equal(weights[k], reference[k]) for k in reference)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_during_a_checkpoint_write_loses_nothing(point, data, tmp_path, uninterrupted):
    module, attr, nth = KILL_POINTS[point]
    args = ["--data", data, "--out", tmp_path, *TINY]
    killed = run_training(KILLER, module, attr, nth, KILLED_AT, *args)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_latest_is_complete(tmp_path, (4, 6))
    train_here(*args, "--resume")
    assert_same_weights(tmp_path, uninterrupted)
    assert not list(tmp_path.glob(".tmp-*"))  # the torn write was cleared away ...
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-0000006", "step-0000008"]  # ... and pruned


def test_sigterm_to_the_whole_process_group_stops_at_a_checkpoint(data, tmp_path):
    """As a job scheduler stops a job: the loader worker gets the signal too, and must leave it to the trainer.
    Steps long enough (width 16) that the signal lands inside one, where a dead worker crashed the run."""
    args = ["--data", data, "--out", tmp_path, *TINY, "--workers", "1", "--iters", "100000", "--width", "16",
            "--crop", "32"]
    with open(tmp_path / "log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "training.train", *map(str, args)], cwd=ROOT,
                                   stdout=log, stderr=log, start_new_session=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            deadline = time.time() + 120
            while checkpoints.latest(tmp_path) is None and process.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            os.killpg(process.pid, signal.SIGTERM)
            assert process.wait(timeout=120) == 0, (tmp_path / "log").read_text()[-2000:]
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert "stopped (SIGTERM or --time-limit)" in (tmp_path / "log").read_text()
    assert assert_latest_is_complete(tmp_path, range(2, 100000)) >= 2
    deadline = time.time() + 30
    while not group_is_gone(process.pid):  # the worker that ignored SIGTERM ended with the run
        assert time.time() < deadline, "a loader worker outlived the training process"
        time.sleep(0.2)


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_saving_a_step_again_never_removes_the_checkpoint_latest_names(tmp_path, monkeypatch):
    """A resumed run stopped before its first step saves the same step again: at no moment of that
    write (any of which a kill could hit) may ``latest`` name a missing or partial folder."""
    model = trained_like(DBN(DBNConfig(width=4)))
    checkpoint = make_checkpoint(tmp_path, model, step=10)
    before = {f.name: f.read_bytes() for f in checkpoint.iterdir()}
    checks = []

    def checked(call):
        def run(*args, **kwargs):
            checks.append(assert_latest_is_complete(tmp_path, [10]))
            return call(*args, **kwargs)
        return run

    monkeypatch.setattr(os, "replace", checked(os.replace))
    monkeypatch.setattr(shutil, "rmtree", checked(shutil.rmtree))
    make_checkpoint(tmp_path, model, step=10)
    assert checks and {f.name: f.read_bytes() for f in checkpoint.iterdir()} == before


def test_a_fresh_run_refuses_a_folder_with_checkpoints_instead_of_pruning_them(data, tmp_path):
    train_here("--data", data, "--out", tmp_path, *TINY, "--iters", "2")
    with pytest.raises(SystemExit, match="holds the checkpoints of another run; pass --resume"):
        train_here("--data", data, "--out", tmp_path, *TINY)
    assert (tmp_path / "latest").read_text() == "step-0000002"


def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_one(data, tmp_path, uninterrupted):
    args = ["--data", data, "--out", tmp_path, *TINY]
    train_here(*args, "--iters", "2")
    previous = {f.name: f.read_bytes() for f in (tmp_path / "step-0000002").iterdir()}
    limit = len(previous["model.safetensors"]) // 2  # the next weights file cannot be written whole

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as ENOSPC would be, instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = run_training("from training.train import main; main()", *args, "--iters", "4", "--resume",
                        preexec_fn=small_disk)
    assert full.returncode == 1 and "File too large" in full.stderr, full.stderr[-2000:]
    assert (tmp_path / "latest").read_text() == "step-0000002"
    assert {f.name: f.read_bytes() for f in (tmp_path / "step-0000002").iterdir()} == previous
    assert not list(tmp_path.glob(".tmp-*")) and not (tmp_path / "step-0000004").exists()
    train_here(*args, "--resume")
    assert_same_weights(tmp_path, uninterrupted)


# Synthesise three videos (two clips each) and SIGKILL the process as the second clip of the second
# video is renamed into place: the first video is finished, the second half done.
SYNTH_KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from training.data import footage
    original = os.replace

    def killing(source, target):
        if Path(target).name == "v1-0001":
            os.kill(os.getpid(), signal.SIGKILL)
        return original(source, target)

    os.replace = killing
    footage.main(sys.argv[1:])
""")


def test_a_synthesis_killed_half_way_resumes_without_redoing_finished_videos(tmp_path, monkeypatch):
    videos = [write_video(tmp_path / f"v{i}.mov", moving_point(16, start=5 + 3 * i)) for i in range(3)]
    whole = tmp_path / "whole"
    footage.synthesise(videos, whole, chunk=1)
    clips = sorted(p.name for p in whole.glob("v*"))
    assert clips == ["v0-0000", "v0-0001", "v1-0000", "v1-0001", "v2-0000", "v2-0001"]

    out = tmp_path / "resumed"
    killed = run_training(SYNTH_KILLER, *videos, "-o", out, "--chunk", "1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("v*")}
    assert sorted(finished) == ["v0-0000", "v0-0001", "v1-0000"]
    assert list(out.glob(".v1-0001.*"))  # the clip being written when it died, never renamed

    read, blurred = [], []
    frames, blur_window = footage.frames, footage.blur_window

    def reading(source, *args):  # records a source when its first frame is asked for
        read.append(Path(source).name)
        yield from frames(source, *args)

    monkeypatch.setattr(footage, "frames", reading)
    monkeypatch.setattr(footage, "blur_window", lambda *a, **k: blurred.append(1) or blur_window(*a, **k))
    footage.synthesise(videos, out, chunk=1)
    assert read == ["v1.mov", "v2.mov"]  # the finished video is not even decoded again
    assert len(blurred) == 3  # v1-0001, v2-0000, v2-0001
    assert {name: (out / name).stat().st_mtime_ns for name in finished} == finished
    assert sorted(p.name for p in out.glob("v*")) == clips
    assert not [p for p in out.glob(".v*") if p.is_dir()]  # the torn clip was cleared away
    for name in clips:
        for array in ("blurry.npy", "sharp.npy"):
            assert np.array_equal(np.load(out / name / array), np.load(whole / name / array)), name
    manifest, reference = (json.loads((d / "manifest.json").read_text()) for d in (out, whole))
    assert manifest["clips"] == reference["clips"] and manifest["skipped_files"] == 0
