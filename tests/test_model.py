"""Models are checked when Deblur is called: every bad file is a vs.Error naming it and the problem."""
import json
import shutil

import onnx
import pytest
import vapoursynth as vs
from onnx import TensorProto, helper

from plugin_helpers import dbn_onnx, picker_onnx
from vs_dvd import model as models


def identity_onnx(path, in_shape, out_channels=None):
    """A one-node ONNX graph with the given input shape (and output channel count)."""
    out_shape = list(in_shape)
    if out_channels is not None:
        out_shape[1] = out_channels
    graph = helper.make_graph(
        [helper.make_node("Identity", ["frames"], ["sharp"])], "g",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("sharp", TensorProto.FLOAT, out_shape)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def copy_model(source, folder, with_sidecar=True):
    target = folder / "copy.onnx"
    shutil.copy(source, target)
    if with_sidecar:
        shutil.copy(models.sidecar_path(source), models.sidecar_path(target))
    return target


def test_the_default_model_is_the_bundled_gated_full_width_dbn_and_no_placeholder():
    info = models.load()
    assert info.path == models.BUNDLED
    assert (info.input_name, info.output_name, info.multiple) == ("frames", "sharp", 8)
    assert info.architecture == {"name": "DBN", "width": 64, "head": "residual", "gate": True}
    assert not info.placeholder and "PLACEHOLDER" not in info.describe()
    assert info.describe().startswith(f"dbn.onnx sha256:{info.sha256[:12]} DBN width 64 residual head, gated")


def test_a_model_without_sidecar_is_read_from_the_onnx_alone(model_path, tmp_path):
    info = models.load(copy_model(model_path, tmp_path, with_sidecar=False))
    assert info.sidecar is None and info.architecture is None and not info.placeholder
    assert (info.input_name, info.output_name, info.multiple) == ("frames", "sharp", 8)


def test_missing_model(tmp_path):
    with pytest.raises(vs.Error, match=f"model {tmp_path / 'nope.onnx'} does not exist"):
        models.load(tmp_path / "nope.onnx")


def test_truncated_model_with_sidecar_fails_the_hash_check(model_path, tmp_path):
    path = copy_model(model_path, tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(vs.Error, match=f"model {path} does not match its sidecar .*truncated"):
        models.load(path)


def test_truncated_model_without_sidecar_is_not_readable(model_path, tmp_path):
    path = copy_model(model_path, tmp_path, with_sidecar=False)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(vs.Error, match=f"model {path} is not a readable ONNX model"):
        models.load(path)


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("not a model")
    with pytest.raises(vs.Error, match=f"model {path} is not a readable ONNX model"):
        models.load(path)


def test_wrong_input_channels(tmp_path):
    path = identity_onnx(tmp_path / "rgb.onnx", ["N", 3, "H", "W"])
    with pytest.raises(vs.Error, match=r"input 'frames' .* shape \['N', 3, 'H', 'W'\], expected "
                                       r"float32 N x 15 x H x W"):
        models.load(path)


def test_wrong_output_channels(tmp_path):
    path = identity_onnx(tmp_path / "out15.onnx", ["N", 15, "H", "W"])
    with pytest.raises(vs.Error, match=r"output 'sharp' .* expected float32 N x 3 x H x W"):
        models.load(path)


def test_fixed_frame_size_is_refused(tmp_path):
    path = identity_onnx(tmp_path / "static.onnx", [1, 15, 64, 64], out_channels=3)
    with pytest.raises(vs.Error, match="with dynamic H and W"):
        models.load(path)


def test_unreadable_sidecar(model_path, tmp_path):
    path = copy_model(model_path, tmp_path)
    models.sidecar_path(path).write_text("{")
    with pytest.raises(vs.Error, match="sidecar .* is not readable JSON"):
        models.load(path)


def test_sidecar_naming_other_tensors(model_path, tmp_path):
    path = copy_model(model_path, tmp_path)
    sidecar = json.loads(models.sidecar_path(path).read_text())
    models.sidecar_path(path).write_text(json.dumps({**sidecar, "input": "x"}))
    with pytest.raises(vs.Error, match="its sidecar .* names 'x'"):
        models.load(path)


def test_a_model_trained_on_aligned_windows_says_so(tmp_path):
    info = models.load(picker_onnx(tmp_path / "aligned.onnx", align="dis-fast"))
    assert info.align == "dis-fast" and "neighbours aligned (dis-fast)" in info.describe()
    assert models.load(picker_onnx(tmp_path / "plain.onnx")).align is None


def test_a_gated_model_says_so(tmp_path):
    assert models.load(dbn_onnx(tmp_path / "gated.onnx", gate=True)).describe().endswith("residual head, gated")
    assert "gated" not in models.load(dbn_onnx(tmp_path / "plain.onnx")).describe()


def test_an_alignment_this_version_cannot_do_is_refused(tmp_path):
    path = picker_onnx(tmp_path / "future.onnx", align="raft-large")
    with pytest.raises(vs.Error, match=r"aligned in a way this version of vs-dvd cannot reproduce \(unknown "
                                       r"alignment 'raft-large'.*update vs-dvd"):
        models.load(path)


def test_a_model_rewritten_after_loading_is_checked_again(model_path, tmp_path):
    path = copy_model(model_path, tmp_path)
    assert models.load(path).sha256 == models.load(model_path).sha256
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(vs.Error, match="does not match its sidecar"):
        models.load(path)


def test_half_precision_halves_the_memory_estimate():
    info = models.load()
    assert info.bytes_per_pixel(half=True) * 2 == info.bytes_per_pixel(half=False)
