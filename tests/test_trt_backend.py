"""vs_dvd's trt backend: the user engine cache (where, how keyed, what happens when it is unusable)
and, on a GPU TensorRT can target, inference that matches the cpu backend."""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

from vs_dvd.trt_build import cache_key
from vs_dvd import model as models
from vs_dvd.backends import trt
from trt_helpers import random_dbn_onnx, requires_engine_gpu

SHAPE = (64, 64)


def test_runtime_version_names_the_installed_flavour_and_its_version():
    assert re.fullmatch(r"TensorRT(-RTX)? \d+(\.\d+)+", trt.runtime_version())


def test_cache_lives_in_xdg_cache_home(cache_home):
    assert trt.cache_folder() == cache_home / "vs-dvd" / "engines"
    assert (cache_home / "vs-dvd" / "engines").is_dir()  # a missing folder is created


def test_unwritable_cache_falls_back_to_a_private_temporary_folder(tmp_path, monkeypatch, vs_warnings):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    folder = trt.cache_folder()
    assert folder.is_dir() and not folder.is_relative_to(blocker)
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    assert any("cannot be written" in m and str(folder) in m for m in vs_warnings)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_cache_falls_back_with_a_warning(tmp_path, monkeypatch, vs_warnings):
    (tmp_path / "ro").mkdir(mode=0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ro"))
    assert not trt.cache_folder().is_relative_to(tmp_path / "ro")
    assert any("cannot be written" in m for m in vs_warnings)


def test_engine_is_built_once_per_key_with_a_log_line(cache_home, vs_warnings):
    bundled = models.load()
    first = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0)
    assert first.built and first.path.parent == cache_home / "vs-dvd" / "engines"
    assert any("building" in m and "fp16 engine" in m and "not built yet" in m for m in vs_warnings)
    vs_warnings.clear()
    again = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0)
    assert not again.built and again.data == first.data and not vs_warnings
    fp32 = trt.engine_for(bundled, fp16=False, shape=SHAPE, device_id=0)
    assert fp32.built and cache_key(fp32.sidecar) != cache_key(first.sidecar)


def test_engine_key_follows_model_and_precision_and_one_engine_serves_every_size_to_1080p(cache_home, tmp_path):
    bundled = models.load()
    base = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0).sidecar
    assert base["model_sha256"] == bundled.sha256
    assert base["profile"] == {"min": [64, 64], "opt": [64, 64], "max": list(trt.COVER)}
    for shape in [(64, 72), (720, 1280), trt.COVER]:  # other sizes: the same engine, no build
        again = trt.engine_for(bundled, fp16=True, shape=shape, device_id=0)
        assert not again.built and again.sidecar == base
    exact = trt.engine_for(bundled, fp16=True, shape=(720, 1280), device_id=0)  # built for 64x64, still used
    assert exact.sidecar["profile"]["opt"] == [64, 64]
    wider = trt.engine_for(bundled, fp16=True, shape=(64, 2048), device_id=0)  # beyond COVER: a new engine
    assert wider.built and wider.sidecar["profile"] == {"min": [64, 64], "opt": [64, 2048], "max": [1088, 2048]}
    user = models.load(random_dbn_onnx(tmp_path / "user.onnx"))
    assert trt.engine_for(user, fp16=True, shape=SHAPE, device_id=0).sidecar["model_sha256"] == user.sha256


def test_an_engine_optimised_for_the_size_is_preferred_to_one_that_merely_accepts_it(cache_home):
    bundled = models.load()
    trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0)
    built = trt.engine_for(bundled, fp16=True, shape=(72, 64), device_id=0)
    assert not built.built  # accepted by the first
    from vs_dvd.trt_build import ensure_engine

    own = ensure_engine(bundled.path, trt.cache_folder(), precision="fp16", profile=trt.profile_for((72, 64)))
    assert trt.engine_for(bundled, fp16=True, shape=(72, 64), device_id=0).path == own.path


def test_profile_reaches_1080p_only_where_memory_allows_it():
    assert trt.profile_for((360, 640)).max == trt.COVER
    assert trt.profile_for((360, 640), budget=360 * 640).max == (360, 640)  # an inference at 1080p would not fit
    assert trt.profile_for((2160, 3840)).min == trt.FLOOR and trt.profile_for((2160, 3840)).max == (2160, 3840)
    assert trt.profile_for((48, 640)).min == (48, 64)


def test_engine_folder_holds_the_engines_and_an_unwritable_one_is_refused(cache_home, tmp_path):
    chosen = tmp_path / "my engines"
    cached = trt.engine_for(models.load(), fp16=True, shape=SHAPE, device_id=0, folder=chosen)
    assert cached.path.parent == chosen and not (cache_home / "vs-dvd" / "engines").exists()
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(vs.Error, match=r"engine_folder='.*a file' cannot be written .*pass a folder you can write"):
        trt.cache_folder(blocker)


@pytest.fixture
def engine_file(tmp_path) -> Path:
    """An engine built the way a user builds one: python -m vs_dvd.trt_build MODEL -o FILE."""
    from vs_dvd.trt_build import Profile, build_engine

    path = tmp_path / "user.engine"
    build_engine(models.load().path, path, precision="fp32", profile=Profile((64, 64), (64, 96), (128, 160)))
    return path


def test_an_engine_file_is_checked_against_its_sidecar_the_model_and_tensorrt(engine_file, tmp_path):
    bundled = models.load()
    user = trt.user_engine(engine_file, bundled)
    assert user.sidecar["precision"] == "fp32" and not user.built
    other = models.load(random_dbn_onnx(tmp_path / "other.onnx"))
    with pytest.raises(vs.Error, match=r"built from the model with sha256 \w{12}, not from .*other.onnx.*pass model="):
        trt.user_engine(engine_file, other)
    with pytest.raises(vs.Error, match=r"missing.engine does not exist; build it with python -m vs_dvd.trt_build"):
        trt.user_engine(tmp_path / "missing.engine", bundled)
    engine_file.write_bytes(engine_file.read_bytes()[:1000])
    with pytest.raises(vs.Error, match="truncated or altered"):
        trt.user_engine(engine_file, bundled)


def test_engine_runs_on_trt_alone_and_is_checked_when_deblur_is_called(engine_file):
    import vs_dvd

    clip = vs.core.std.BlankClip(format=vs.RGBS, width=64, height=64, length=5)
    with pytest.raises(vs.Error, match=r"engine= runs on backend='trt', .* backend='cpu'"):
        vs_dvd.deblur(clip, backend="cpu", engine=engine_file)
    if trt.runtime_version() and not vs_dvd.backends.cuda_devices():
        with pytest.raises(vs.Error, match="backend='trt' needs an NVIDIA GPU"):
            vs_dvd.deblur(clip, engine=engine_file)  # auto with an engine file means trt


def test_frames_beyond_an_engine_files_sizes_are_tiled_and_below_them_refused(vs_infos):
    from vs_dvd import _tiling

    from vs_dvd.trt_build import Profile

    profile = Profile((64, 64), (64, 96), (128, 160))
    info = models.load()
    big = vs.core.std.BlankClip(format=vs.RGBS, width=300, height=200, length=5)
    tiling = _tiling(big, info, None, None, budget=10**9, profile=profile)
    assert tiling.tile == (128, 160) and any("engine file's largest input" in m for m in vs_infos)
    assert _tiling(big, info, (128, 128), None, budget=10**9, profile=profile).tile == (128, 128)
    with pytest.raises(vs.Error, match=r"takes inputs from 64x64 to 160x128, and this clip needs 48x128"):
        _tiling(big, info, (128, 48), None, budget=10**9, profile=profile)
    small = vs.core.std.BlankClip(format=vs.RGBS, width=48, height=48, length=5)
    with pytest.raises(vs.Error, match=r"needs 48x48; pass a tilesize within them, or build the engine"):
        _tiling(small, info, None, None, budget=10**9, profile=profile)


def test_truncated_cached_engine_is_rebuilt_with_a_log_line(cache_home, vs_warnings):
    bundled = models.load()
    path = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0).path
    path.write_bytes(path.read_bytes()[:4096])
    vs_warnings.clear()
    again = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0)
    assert again.built and len(again.data) == again.sidecar["engine_bytes"]
    assert any("truncated" in m for m in vs_warnings)


# --- on a GPU -----------------------------------------------------------------------------------

@requires_engine_gpu()
@pytest.mark.parametrize("fp16, target_db", [(True, 50), (False, 60)])
def test_trt_matches_the_cpu_backend_from_two_threads(cache_home, tmp_path, fp16, target_db):
    from vs_dvd.trt_build.check import psnr
    from vs_dvd.backends import cpu

    info = models.load(random_dbn_onnx(tmp_path / "w4.onnx"))
    rng = np.random.default_rng(0)
    frames = [rng.random((3, 80, 96), np.float32) for _ in range(5)]
    tile = (slice(None), slice(8, 72), slice(16, 80))  # a 64 x 64 tile of each frame
    reference = cpu.create(info, device_id=0, fp16=False, num_streams=1, num_threads=0, shape=SHAPE) \
        .infer([f[tile] for f in frames])
    backend = trt.create(info, device_id=0, fp16=fp16, num_streams=2, num_threads=0, shape=SHAPE)
    import torch

    resident = [torch.from_numpy(f).to(backend.device) for f in frames]
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(backend.infer([r[tile] for r in resident]).cpu().numpy()))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for out in results:
        assert out.shape == (3, 64, 64) and out.dtype == np.float32
        assert psnr(out, reference) >= target_db
    assert not trt.engine_for(info, fp16=fp16, shape=SHAPE, device_id=0).built  # the second run loads
