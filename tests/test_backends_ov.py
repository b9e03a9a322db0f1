"""The ov backend (OpenVINO on the CPU) computes what ONNX Runtime computes, on whole frames and on
tiles, from several threads at once; with fp16 it uses bfloat16 only where the CPU has it natively."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import vapoursynth as vs

import vs_dvd
from plugin_helpers import dbn_onnx, moving_clip, pattern, planes, run_onnx
from vs_dvd import model as models

ov = pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'vs-dvd[ov]')")
from vs_dvd.backends import ov as ov_backend  # noqa: E402

SIZE = (24, 32)


def backend(model_path, shape=SIZE, num_streams=1, fp16=False):
    return ov_backend.create(models.load(model_path), device_id=0, fp16=fp16, num_streams=num_streams,
                             num_threads=1, shape=shape)


def window(start: int = 0) -> list[np.ndarray]:
    return [pattern(n, *SIZE) for n in range(start, start + 5)]


def test_a_whole_frame_equals_onnx_runtime(model_path):
    frames = window()
    whole = backend(model_path)
    out = whole.infer([whole.upload(f) for f in frames])
    assert out.shape == (3, *SIZE) and out.dtype == np.float32
    assert np.abs(out - run_onnx(model_path, frames)).max() <= 1e-5


def test_a_tile_slice_equals_onnx_runtime_on_that_crop(model_path):
    frames = window()
    tile = backend(model_path, shape=(16, 16))
    out = tile.infer([tile.upload(f)[:, 8:24, 8:24] for f in frames])
    expected = run_onnx(model_path, [np.ascontiguousarray(f[:, 8:24, 8:24]) for f in frames])
    assert np.abs(out - expected).max() <= 1e-5


def test_concurrent_inferences_give_the_same_results_as_one_at_a_time(model_path):
    shared = backend(model_path, num_streams=2)
    windows = [window(start) for start in range(6)]
    alone = [shared.infer(w) for w in windows]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(shared.infer, windows))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_fp16_means_bfloat16_where_the_cpu_has_it_natively(model_path):
    native = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    half, full = backend(model_path, fp16=True), backend(model_path, fp16=False)
    assert (half.precision, full.precision) == ("bf16" if native else "f32", "f32")
    frames = window()
    error = np.abs(half.infer(frames) - run_onnx(model_path, frames)).max()
    assert error <= (2e-2 if native else 1e-5), error


def test_deblur_with_the_ov_backend_matches_the_cpu_backend(tmp_path):
    model = dbn_onnx(tmp_path / "model.onnx")
    clip = moving_clip(64, 48, 6, vs.YUV420P8)
    on_ov = vs_dvd.deblur(clip, model=model, backend="ov", fp16=False, num_streams=2)
    on_cpu = vs_dvd.deblur(clip, model=model, backend="cpu")
    for n in range(6):
        assert np.abs(planes(on_ov.get_frame(n)) - planes(on_cpu.get_frame(n))).max() <= 1
