"""The cpu backend (ONNX Runtime) gives what ONNX Runtime gives when called directly, on whole
frames and on tiles, from several threads at once, and always in float32."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from plugin_helpers import pattern, run_onnx
from vs_dvd import model as models
from vs_dvd.backends import cpu

SIZE = (24, 32)


def backend(model_path, shape=SIZE, num_streams=1, fp16=False):
    return cpu.create(models.load(model_path), device_id=0, fp16=fp16, num_streams=num_streams,
                      num_threads=1, shape=shape)


def window(start: int = 0) -> list[np.ndarray]:
    return [pattern(n, *SIZE) for n in range(start, start + 5)]


def test_a_whole_frame_equals_onnx_runtime_called_directly(model_path):
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


def test_fp16_is_ignored_the_cpu_computes_in_float32(model_path):
    frames = window()
    out = backend(model_path, fp16=True).infer(frames)
    assert out.dtype == np.float32
    assert np.abs(out - run_onnx(model_path, frames)).max() <= 1e-5

