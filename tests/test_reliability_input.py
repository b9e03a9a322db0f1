"""Reliability, bad input (issue #6, item 1): through ``core.dvd.Deblur`` itself, each bad clip,
argument or model is a vs.Error that names the problem, raised when Deblur is called, and odd but
valid input (exotic YUV matrices, NaN and infinities) renders. The cases older tests already cover
are listed in tests/README.md."""
import os

import numpy as np
import onnx
import pytest
import vapoursynth as vs
from onnx import numpy_helper

from plugin_helpers import TESTS, assert_same_picture, conv_onnx, moving_clip, planes

core = vs.core


def yuv10(**props):
    return core.std.BlankClip(format=vs.YUV420P10, width=32, height=24, length=3).std.SetFrameProps(**props)


RGBS = dict(format=vs.RGBS, width=32, height=24, length=3)
BAD_CALLS = {
    "audio": (core.std.BlankAudio, {}, "argument clip was passed an unsupported type .* AudioNode"),
    "32-bit integer samples": (lambda: core.std.BlankClip(format=vs.GRAY32, width=32, height=24), {},
                               "the clip is Gray32, 32-bit integer, which core.resize cannot convert"),
    "_Matrix that is not a number": (lambda: yuv10(_Matrix="bt709"), {}, "has _Matrix='bt709'.*matrix=1"),
    "BT.2020 CL without transfer": (lambda: yuv10(_Matrix=10), {},
                                    r"cannot convert the clip's first frame to RGB and back \(.*3074.*\); "
                                    "fix its colour properties.* also _Transfer and _Primaries"),
    "impossible chroma location": (lambda: yuv10(_Matrix=1, _ChromaLocation=9), {},
                                   "cannot convert the clip's first frame.*unrecognized chroma location"),
    "more threads than CPUs": (lambda: core.std.BlankClip(**RGBS), {"num_threads": os.cpu_count() + 1},
                               f"num_threads={os.cpu_count() + 1} is more than the {os.cpu_count()} CPU"),
    "model is a folder": (lambda: core.std.BlankClip(**RGBS), {"model": str(TESTS)},
                          f"model {TESTS} is not a file"),
    "trt without a GPU": (lambda: core.std.BlankClip(**RGBS), {"backend": "trt"},
                          "backend='trt' needs (TensorRT|an NVIDIA GPU)"),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_is_a_vs_error_naming_the_problem(case, model_path):
    make_clip, args, message = BAD_CALLS[case]
    if case == "trt without a GPU" and os.path.exists("/dev/nvidia0"):
        pytest.skip("a GPU is present")
    with pytest.raises(vs.Error, match=message):
        core.dvd.Deblur(make_clip(), **{"model": str(model_path), "backend": "cpu", **args})


def test_a_model_whose_output_is_not_the_input_size_is_refused_when_deblur_is_called(tmp_path):
    path = conv_onnx(tmp_path / "halves.onnx", stride=2)
    with pytest.raises(vs.Error, match=r"turns a 1 x 15 x 8 x 16 input into 1 x 3 x 4 x 8, expected "
                                       r"1 x 3 x 8 x 16: the output must be the size of the input"):
        core.dvd.Deblur(moving_clip(32, 24, 3), model=str(path), backend="cpu")


def test_a_model_that_cannot_run_is_refused_when_deblur_is_called(tmp_path):
    path = conv_onnx(tmp_path / "mismatch.onnx")
    model = onnx.load(path)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones((3, 14, 1, 1), np.float32), "w"))
    onnx.save(model, path)  # 14 input channels in the weights, 15 in the declared input
    with pytest.raises(vs.Error, match=f"model {path} fails on a 1 x 15 x 8 x 16 input"):
        core.dvd.Deblur(moving_clip(32, 24, 3), model=str(path), backend="cpu")


@pytest.mark.parametrize("matrix, transfer, primaries", [(10, 14, 9), (14, 16, 9), (12, 1, 1), (13, 1, 1)])
def test_matrices_that_need_transfer_and_primaries_round_trip(identity_path, matrix, transfer, primaries):
    colour = dict(transfer_in=transfer, transfer=transfer, primaries_in=primaries, primaries=primaries)
    clip = moving_clip(32, 24, 3).resize.Bicubic(format=vs.YUV444P16, matrix=matrix, **colour)
    assert clip.get_frame(0).props["_Transfer"] == transfer
    out = core.dvd.Deblur(clip, model=str(identity_path), backend="cpu")
    assert_same_picture(out.get_frame(1), clip.get_frame(1))


@pytest.mark.parametrize("fmt", [vs.YUV444PS, vs.RGBH, vs.GRAYS])
def test_nan_and_infinities_give_finite_output_in_every_float_format(model_path, fmt):
    blank = core.std.BlankClip(format=fmt, width=32, height=24, length=5,
                               color=[0.5] * core.get_video_format(fmt).num_planes)
    if fmt == vs.YUV444PS:
        blank = blank.std.SetFrameProps(_Matrix=1)

    def poison(n, f):
        out = f.copy()
        plane = np.asarray(out[n % out.format.num_planes])
        plane[n, :4] = [np.nan, np.inf, -np.inf, np.nan]
        return out

    out = core.dvd.Deblur(blank.std.ModifyFrame(blank, poison), model=str(model_path), backend="cpu")
    for n in range(5):
        assert np.isfinite(planes(out.get_frame(n))).all(), n
