"""vs_dvd.deblur, the function behind core.dvd.Deblur: what it accepts, what it keeps, how it refuses."""
import subprocess
import sys

import numpy as np
import pytest
import vapoursynth as vs

import vs_dvd
from plugin_helpers import assert_same_picture, moving_clip, planes, run_onnx
from vs_dvd import backends

core = vs.core

FORMAT_CASES = [(vs.YUV420P8, 64, 48), (vs.YUV420P8, 62, 46), (vs.YUV420P10, 64, 48),
                (vs.YUV444PS, 61, 45), (vs.RGB24, 61, 45), (vs.RGBS, 64, 48), (vs.RGBS, 61, 45),
                (vs.GRAY16, 61, 45), (vs.RGBH, 64, 48)]


@pytest.mark.parametrize("fmt, width, height", FORMAT_CASES)
def test_output_keeps_format_size_length_rate_and_properties(identity_path, fmt, width, height):
    clip = moving_clip(width, height, 6, fmt).std.AssumeFPS(fpsnum=30000, fpsden=1001)
    out = vs_dvd.deblur(clip, model=identity_path, backend="cpu")
    assert (out.format.id, out.width, out.height) == (clip.format.id, width, height)
    assert (out.num_frames, out.fps) == (6, clip.fps)
    for n in (0, 3, 5):
        frame, source = out.get_frame(n), clip.get_frame(n)
        assert dict(frame.props) == dict(source.props)
        assert_same_picture(frame, source)  # the identity model gives back the centre frame


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_clips_shorter_than_five_frames_work(model_path, length):
    clip = moving_clip(32, 24, length)
    out = vs_dvd.deblur(clip, model=model_path, backend="cpu")
    assert out.num_frames == length
    last = [planes(clip.get_frame(min(max(length - 1 + d, 0), length - 1))).astype(np.float32)
            for d in range(-2, 3)]
    np.testing.assert_allclose(planes(out.get_frame(length - 1)), run_onnx(model_path, last), atol=1e-5)


def test_nan_and_inf_in_float_input_give_finite_output(model_path):
    blank = core.std.BlankClip(format=vs.RGBS, width=32, height=24, length=5, color=[0.5] * 3)

    def poison(n, f):
        out = f.copy()
        np.asarray(out[n % 3])[n, :3] = [np.nan, np.inf, -np.inf]
        return out

    out = vs_dvd.deblur(blank.std.ModifyFrame(blank, poison), model=model_path, backend="cpu")
    for n in range(5):
        assert np.isfinite(planes(out.get_frame(n))).all()


def test_an_attached_alpha_is_refused_with_a_recipe_that_keeps_it(model_path):
    clip = moving_clip(32, 24, 3).std.ClipToProp(moving_clip(32, 24, 3, vs.GRAYS), prop="_Alpha")
    with pytest.raises(vs.Error, match=r"frame 1 of the clip has an alpha plane \(_Alpha\).*PropToClip"):
        vs_dvd.deblur(clip, model=model_path, backend="cpu").get_frame(1)
    # the recipe the message gives: deblur the colour alone, put the alpha back unchanged
    alpha = clip.std.PropToClip("_Alpha")
    out = vs_dvd.deblur(clip.std.RemoveFrameProps("_Alpha"), model=model_path, backend="cpu")
    out = out.std.ClipToProp(alpha, "_Alpha")
    np.testing.assert_array_equal(planes(out.get_frame(1).props["_Alpha"]), planes(alpha.get_frame(1)))


def test_yuv_matrix_argument_is_used_when_frames_have_no_matrix(identity_path):
    clip = moving_clip(32, 24, 2, vs.YUV444P8).std.RemoveFrameProps("_Matrix")
    out = vs_dvd.deblur(clip, model=identity_path, backend="cpu", matrix=1)
    assert_same_picture(out.get_frame(0), clip.get_frame(0))


def test_tiles_blend_into_nearly_the_whole_frame_result(model_path):
    clip = moving_clip(64, 48, 3)
    whole = planes(vs_dvd.deblur(clip, model=model_path, backend="cpu").get_frame(1))
    tiled = planes(vs_dvd.deblur(clip, model=model_path, backend="cpu", tilesize=[40, 32],
                                 overlap=16).get_frame(1))
    assert tiled.shape == whole.shape and np.abs(tiled - whole).mean() < 0.005


def test_frames_too_large_for_free_memory_are_tiled_automatically():
    messages = []
    handle = core.add_log_handler(lambda kind, text: messages.append(text))
    try:
        # about 1 TB of activations for the bundled model; the clip is never rendered
        huge = core.std.BlankClip(format=vs.RGBS, width=32768, height=32768, length=1)
        vs_dvd.deblur(huge, backend="cpu")
        vs_dvd.deblur(moving_clip(64, 48, 1), backend="cpu")
    finally:
        core.remove_log_handler(handle)
    tiled = [m for m in messages if "would not fit in the free memory" in m]
    assert len(tiled) == 1 and tiled[0].startswith("dvd.Deblur: 32768x32768 frames")


def test_auto_backend_is_on_the_cpu_without_an_nvidia_gpu():
    if backends.cuda_devices():
        pytest.skip("a CUDA GPU is present")
    if not backends.runtime_version("ov"):
        pytest.skip("OpenVINO is not installed")
    assert backends.resolve("auto", 0) == "ov"


def test_importing_vs_dvd_loads_no_inference_runtime():
    """Each backend imports its runtime when it is created, so that a script pays only for the one it uses."""
    heavy = ("torch", "onnxruntime", "openvino", "tensorrt", "tensorrt_rtx_bindings", "cv2", "onnx")
    script = f"import sys, vs_dvd; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_version_names_plugin_model_and_every_backend_runtime():
    info = vs_dvd.version()
    assert set(info) == {"plugin", "model", "trt", "cuda", "ov", "cpu"}
    assert info["plugin"] == vs_dvd.__version__
    assert info["cpu"].startswith("onnxruntime ")
    assert info["model"].startswith("dbn.onnx sha256:")


def variable_format() -> vs.VideoNode:
    a = core.std.BlankClip(format=vs.RGB24, width=32, height=32, length=1)
    return core.std.Splice([a, a.resize.Point(format=vs.YUV444P8, matrix=1)], mismatch=True)


def variable_size() -> vs.VideoNode:
    a = core.std.BlankClip(format=vs.RGBS, width=32, height=32, length=1)
    return core.std.Splice([a, a.resize.Point(16, 16)], mismatch=True)


RGBS = dict(format=vs.RGBS, width=32, height=24, length=2)
BAD_CALLS = {
    "variable format": (variable_format, {}, "format varies"),
    "variable size": (variable_size, {}, "frame size varies"),
    "audio": (core.std.BlankAudio, {}, "must be a video clip"),
    "too small": (lambda: core.std.BlankClip(format=vs.RGBS, width=7, height=16), {}, "7x16, smaller than"),
    "unknown matrix": (lambda: core.std.BlankClip(format=vs.YUV420P8, width=32, height=32), {}, "matrix=1"),
    "bad matrix": (lambda: core.std.BlankClip(**RGBS), {"matrix": 3}, "matrix=3 is not a YUV matrix"),
    "backend": (lambda: core.std.BlankClip(**RGBS), {"backend": "gpu"}, "backend='gpu' is unknown"),
    "tile not multiple of 8": (lambda: core.std.BlankClip(**RGBS), {"tilesize": 60}, "multiples of 8"),
    "tile of three numbers": (lambda: core.std.BlankClip(**RGBS), {"tilesize": [8, 8, 8]}, r"\[width, height\]"),
    "tile under twice the overlap": (lambda: core.std.BlankClip(**RGBS), {"tilesize": [64, 48], "overlap": 32},
                                     r"tilesize \(width, height\) \(64, 48\) is less than twice the overlap"),
    "negative overlap": (lambda: core.std.BlankClip(**RGBS), {"overlap": -8}, "overlap=-8"),
    "negative device": (lambda: core.std.BlankClip(**RGBS), {"device_id": -1}, "device_id=-1"),
    "cpu device 1": (lambda: core.std.BlankClip(**RGBS), {"backend": "cpu", "device_id": 1},
                     "device_id=1 is out of range: backend='cpu' has a single device"),
    "no streams": (lambda: core.std.BlankClip(**RGBS), {"num_streams": 0}, "num_streams=0"),
    "fp16 not a bool": (lambda: core.std.BlankClip(**RGBS), {"fp16": 2}, "fp16=2 must be True or False"),
    "negative threads": (lambda: core.std.BlankClip(**RGBS), {"num_threads": -1}, "num_threads=-1"),
    "missing model": (lambda: core.std.BlankClip(**RGBS), {"model": "/nonexistent/m.onnx"},
                      "model /nonexistent/m.onnx does not exist"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_is_refused_when_deblur_is_called(case):
    make_clip, args, message = BAD_CALLS[case]
    with pytest.raises(vs.Error, match=message):
        vs_dvd.deblur(make_clip(), **{"backend": "cpu", **args})
