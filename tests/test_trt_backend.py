"""vs_dvd's trt backend: the user engine cache (where, how keyed, what happens when it is unusable)
and, on a GPU TensorRT can target, inference that matches the cpu backend."""
from __future__ import annotations

import os
import re
import threading

import numpy as np
import pytest

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


def test_engine_key_follows_model_precision_and_tile_shape(cache_home, tmp_path):
    bundled = models.load()
    base = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0).sidecar
    assert base["model_sha256"] == bundled.sha256
    assert base["profile"] == {"min": [64, 64], "opt": [64, 64], "max": [64, 64]}
    other = trt.engine_for(bundled, fp16=True, shape=(64, 72), device_id=0).sidecar
    assert other["profile"]["opt"] == [64, 72] and cache_key(other) != cache_key(base)
    user = models.load(random_dbn_onnx(tmp_path / "user.onnx"))
    assert trt.engine_for(user, fp16=True, shape=SHAPE, device_id=0).sidecar["model_sha256"] == user.sha256


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
