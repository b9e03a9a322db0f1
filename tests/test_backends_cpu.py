"""The CPU backends, cpu (ONNX Runtime) and ov (OpenVINO), give what ONNX Runtime gives when called
directly, on whole frames and on tiles, from several threads at once; cpu always in float32, ov in
bfloat16 with fp16 only where the CPU has it natively."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import vapoursynth as vs

import vs_dvd
from plugin_helpers import dbn_onnx, moving_clip, ort_only_onnx, pattern, planes, run_onnx
from vs_dvd import backends
from vs_dvd import model as models

SIZE = (24, 32)
needs_openvino = pytest.mark.skipif(not backends.runtime_version("ov"),
                                    reason="OpenVINO is not installed (pip install 'vs-dvd[ov]')")


@pytest.fixture(params=["cpu", pytest.param("ov", marks=needs_openvino)])
def name(request) -> str:
    return request.param


def backend(name, model_path, shape=SIZE, num_streams=1, fp16=False):
    return backends.create(name, models.load(model_path), device_id=0, fp16=fp16, num_streams=num_streams,
                           num_threads=1, shape=shape)


def window(start: int = 0) -> list[np.ndarray]:
    return [pattern(n, *SIZE) for n in range(start, start + 5)]


def test_a_whole_frame_equals_onnx_runtime_called_directly(name, model_path):
    frames = window()
    whole = backend(name, model_path)
    out = whole.infer([whole.upload(f) for f in frames])
    assert out.shape == (3, *SIZE) and out.dtype == np.float32
    assert np.abs(out - run_onnx(model_path, frames)).max() <= 1e-5


def test_a_tile_slice_equals_onnx_runtime_on_that_crop(name, model_path):
    frames = window()
    tile = backend(name, model_path, shape=(16, 16))
    out = tile.infer([tile.upload(f)[:, 8:24, 8:24] for f in frames])
    expected = run_onnx(model_path, [np.ascontiguousarray(f[:, 8:24, 8:24]) for f in frames])
    assert np.abs(out - expected).max() <= 1e-5


def test_concurrent_inferences_give_the_same_results_as_one_at_a_time(name, model_path):
    shared = backend(name, model_path, num_streams=2)
    windows = [window(start) for start in range(6)]
    alone = [shared.infer(w) for w in windows]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(shared.infer, windows))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_fp16_is_ignored_the_cpu_backend_computes_in_float32(model_path):
    frames = window()
    out = backend("cpu", model_path, fp16=True).infer(frames)
    assert out.dtype == np.float32
    assert np.abs(out - run_onnx(model_path, frames)).max() <= 1e-5


@needs_openvino
def test_the_ov_backend_sends_no_telemetry(model_path):
    """OpenVINO's import reports usage unless told not to; the backend imports it with the telemetry stubbed."""
    script = ("import os, sys\n"
              "from vs_dvd import backends, model\n"
              "os.fork = None  # any fork fails loudly\n"
              f"backends.create('ov', model.load({str(model_path)!r}), device_id=0, fp16=False, num_streams=1, "
              "num_threads=1, shape=(24, 32))\n"
              "from openvino.tools.ovc import telemetry_utils\n"
              "print(telemetry_utils.tm.__name__)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "openvino.tools.ovc.telemetry_stub"


@needs_openvino
def test_fp16_means_bfloat16_on_ov_where_the_cpu_has_it_natively(model_path):
    from vs_dvd.backends.ov import import_openvino

    ov = import_openvino()

    native = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    half, full = backend("ov", model_path, fp16=True), backend("ov", model_path, fp16=False)
    assert (half.precision, full.precision) == ("bf16" if native else "f32", "f32")
    frames = window()
    error = np.abs(half.infer(frames) - run_onnx(model_path, frames)).max()
    assert error <= (2e-2 if native else 1e-5), error


@needs_openvino
def test_deblur_with_the_ov_backend_matches_the_cpu_backend(tmp_path):
    model = dbn_onnx(tmp_path / "model.onnx")
    clip = moving_clip(64, 48, 6, vs.YUV420P8)
    on_ov = vs_dvd.deblur(clip, model=model, backend="ov", fp16=False, num_streams=2)
    on_cpu = vs_dvd.deblur(clip, model=model, backend="cpu")
    for n in range(6):
        assert np.abs(planes(on_ov.get_frame(n)) - planes(on_cpu.get_frame(n))).max() <= 1


@needs_openvino
def test_a_model_openvino_cannot_convert_is_a_vs_error_naming_the_operator_and_the_cpu_backend(tmp_path):
    model = ort_only_onnx(tmp_path / "ort_only.onnx")
    with pytest.raises(vs.Error, match=r"backend='ov': OpenVINO cannot run model .*ort_only\.onnx .*"
                                       r"com\.microsoft\.Inverse.*use backend='cpu'"):
        vs_dvd.deblur(moving_clip(16, 16, 5), model=model, backend="ov")
