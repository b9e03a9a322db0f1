"""training.export: an ONNX file plus sidecar that matches PyTorch, with every layer's weights named."""
import copy
import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto
from training_helpers import make_checkpoint, trained_like

from training.export import atomic_write_bytes, export_onnx, main, sidecar_path
from vs_dvd.network import DBN, DBNConfig, fold_batchnorm, layer_names, with_gate

NAMES = {f"{layer}.conv.{part}" for layer in layer_names() for part in ("weight", "bias")}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return trained_like(DBN(DBNConfig(width=4)))


def run(path, frames: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"frames": frames.numpy()})[0]


def test_atomic_write_replaces_the_file_whole_with_mode_0644(tmp_path):
    target = tmp_path / "sub" / "latest"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["latest"]  # no temporary file left


def test_the_export_names_every_layer_and_writes_its_sidecar(model, tmp_path):
    path = tmp_path / "model.onnx"
    sidecar = export_onnx(model, path, {"checkpoint": "step-0000010"})
    proto = onnx.load(path)
    assert {i.name for i in proto.graph.initializer} == NAMES
    assert not [n for n in proto.graph.node if n.op_type == "Identity"]
    assert proto.opset_import[0].version == 17
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("frames", "sharp")
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims[1] == 15 and all(isinstance(d, str) and d for d in (dims[0], dims[2], dims[3]))
    assert json.loads(sidecar_path(path).read_text()) == sidecar
    assert sidecar["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {k: sidecar[k] for k in ("format", "architecture", "frames", "multiple", "input", "output",
                                    "weights", "placeholder", "checkpoint")} == {
        "format": 1, "architecture": {"name": "DBN", "width": 4, "head": "residual", "gate": False}, "frames": 5,
        "multiple": 8, "input": "frames", "output": "sharp", "weights": "float32", "placeholder": False,
        "checkpoint": "step-0000010"}
    assert sidecar["parity_max_abs_error"] <= 1e-4


def test_a_gated_model_exports_its_gate_by_name_and_says_so(tmp_path):
    torch.manual_seed(0)
    gated = with_gate(fold_batchnorm(trained_like(DBN(DBNConfig(width=4)))))
    torch.nn.init.normal_(gated.gate.G5.conv.weight, std=3.0)  # a gate that varies: parity is checked on it
    sidecar = export_onnx(gated, tmp_path / "gated.onnx", fp16_weights=True)
    gate_names = {f"gate.G{i}.conv.{part}" for i in range(6) for part in ("weight", "bias")}
    assert {i.name for i in onnx.load(tmp_path / "gated.onnx").graph.initializer} == NAMES | gate_names
    assert sidecar["architecture"]["gate"] is True and sidecar["parity_max_abs_error"] <= 2e-3


def test_an_untrained_model_keeps_one_initializer_per_layer(tmp_path):
    """Its biases are all zero, which the exporter would otherwise store once behind Identity nodes."""
    path = tmp_path / "identity.onnx"
    export_onnx(DBN(DBNConfig(width=4)), path)
    proto = onnx.load(path)
    assert {i.name for i in proto.graph.initializer} == NAMES
    assert not [n for n in proto.graph.node if n.op_type == "Identity"]


def test_the_export_computes_what_pytorch_computes_at_any_batch_and_size(model, tmp_path):
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    frames = torch.rand(3, 15, 24, 40)
    with torch.no_grad():
        expected = model.eval()(frames).numpy()
    assert np.abs(run(path, frames) - expected).max() <= 1e-4
    assert np.abs(expected - frames[:, 6:9].numpy()).mean() > 0.01  # a trained-looking model, not the identity


def test_fp16_weights_halve_the_file_and_keep_the_names_behind_casts(model, tmp_path):
    full, half = tmp_path / "fp32.onnx", tmp_path / "fp16.onnx"
    export_onnx(model, full)
    sidecar = export_onnx(model, half, fp16_weights=True)
    proto = onnx.load(half)
    assert {i.name for i in proto.graph.initializer} == NAMES
    assert all(i.data_type == TensorProto.FLOAT16 for i in proto.graph.initializer)
    casts = {n.input[0] for n in proto.graph.node if n.op_type == "Cast"}
    assert casts == NAMES
    assert sidecar["weights"] == "float16" and sidecar["parity_max_abs_error"] <= 2e-3
    assert half.stat().st_size < 0.6 * full.stat().st_size
    frames = torch.rand(1, 15, 16, 16)
    assert np.abs(run(half, frames) - run(full, frames)).max() <= 2e-3


def test_a_model_onnx_runtime_cannot_match_writes_nothing(model, tmp_path):
    broken = trained_like(DBN(DBNConfig(width=4)))
    with torch.no_grad():
        broken.F0.conv.weight[0, 0, 0, 0] = float("nan")
    path = tmp_path / "broken.onnx"
    with pytest.raises(ValueError, match="nothing written"):
        export_onnx(broken, path)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_exports_the_latest_checkpoint_of_a_training_folder(model, tmp_path, capsys):
    run_folder = tmp_path / "run"
    make_checkpoint(run_folder, model, step=10)
    out = tmp_path / "exported.onnx"
    main([str(run_folder), "-o", str(out), "--fp16-weights", "--check-size", "16x24", "--description", "a test"])
    assert "max abs error" in capsys.readouterr().out
    sidecar = json.loads(sidecar_path(out).read_text())
    assert sidecar["checkpoint"] == "step-0000010" and sidecar["weights"] == "float16"
    assert sidecar["training"]["width"] == 4 and sidecar["placeholder"] is False
    assert sidecar["description"] == "a test"


def test_the_bundled_sidecar_holds_what_export_writes_and_no_history(model, tmp_path):
    """The phase history lives in docs/model/history.md; the sidecar keeps what the runtime checks (and the
    int8 IR's entry, which training.quantise adds)."""
    from vs_dvd.model import BUNDLED

    written = export_onnx(model, tmp_path / "m.onnx", check_size=(16, 24))
    bundled = json.loads(sidecar_path(BUNDLED).read_text())
    assert set(written) <= set(bundled) <= set(written) | {"description", "checkpoint", "training", "weights_averaged",
                                                           "int8"}
    assert "docs/model/history.md" in bundled["description"]


def test_the_cli_refuses_a_folder_without_checkpoints(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), "-o", str(tmp_path / "m.onnx")])
    assert exit_.value.code == 1
    assert "neither a checkpoint folder" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("names", [("a", "b"), ("a", "a", "b")])  # one named twice weighs double
def test_the_cli_exports_the_mean_of_the_weights_of_several_checkpoints(model, tmp_path, names):
    torch.manual_seed(1)
    networks = {"a": model, "b": trained_like(DBN(DBNConfig(width=4)))}
    saved = {name: make_checkpoint(tmp_path / name, networks[name]) for name in set(names)}
    folders = [saved[name] for name in names]
    out = tmp_path / "soup.onnx"
    main([*map(str, folders), "-o", str(out), "--check-size", "16x24"])
    mean = DBN(DBNConfig(width=4))
    mean.load_state_dict({k: sum(networks[n].state_dict()[k] for n in names) / len(names)
                          if v.is_floating_point() else v for k, v in model.state_dict().items()})
    frames = torch.rand(1, 15, 16, 24)
    with torch.no_grad():
        expected = mean.eval()(frames).numpy()
        assert np.abs(copy.deepcopy(model).eval()(frames).numpy() - expected).max() > 1e-2  # a third network
    np.testing.assert_allclose(run(out, frames), expected, atol=1e-4)
    sidecar = json.loads(sidecar_path(out).read_text())
    assert sidecar["weights_averaged"] is True and sidecar["checkpoint"] == [str(f) for f in folders]


def test_the_cli_averages_an_exported_model_with_a_fine_tuning_of_it(model, tmp_path):
    """The soup of a shipped .onnx and a run that --init started from it (both folded)."""
    start = tmp_path / "start.onnx"
    export_onnx(model, start)
    torch.manual_seed(2)
    with torch.no_grad():
        tuned = fold_batchnorm(trained_like(DBN(DBNConfig(width=4))))
        folded = fold_batchnorm(model)
    out = tmp_path / "soup.onnx"
    main([str(start), str(make_checkpoint(tmp_path / "run", tuned)), "-o", str(out), "--check-size", "16x24"])
    mean = DBN(DBNConfig(width=4), folded=True)
    mean.load_state_dict({k: (v + tuned.state_dict()[k]) / 2 for k, v in folded.state_dict().items()})
    frames = torch.rand(1, 15, 16, 24)
    with torch.no_grad():
        np.testing.assert_allclose(run(out, frames), mean.eval()(frames).numpy(), atol=1e-4)
    assert json.loads(sidecar_path(out).read_text())["checkpoint"][0] == str(start)


def test_the_cli_refuses_an_onnx_file_without_a_sidecar(tmp_path, capsys):
    (tmp_path / "bare.onnx").write_bytes(b"not a model")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bare.onnx"), "-o", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err
    assert err.startswith("error: model ") and "bare.onnx has no sidecar" in err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("other", [lambda m: DBN(DBNConfig(width=8)), with_gate], ids=["wider", "gated"])
def test_the_cli_refuses_to_average_different_networks(model, tmp_path, capsys, other):
    folders = [make_checkpoint(tmp_path / name, m) for name, m in (("a", model), ("b", other(model)))]
    with pytest.raises(SystemExit):
        main([*map(str, folders), "-o", str(tmp_path / "m.onnx")])
    assert "is not the same network as" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_the_sidecar_says_how_the_training_windows_were_aligned(model, tmp_path):
    main([str(make_checkpoint(tmp_path / "a", model, align="dis-fast")), "-o", str(tmp_path / "a.onnx")])
    main([str(make_checkpoint(tmp_path / "b", model)), "-o", str(tmp_path / "b.onnx")])
    assert json.loads(sidecar_path(tmp_path / "a.onnx").read_text())["align"] == "dis-fast"
    assert json.loads(sidecar_path(tmp_path / "b.onnx").read_text())["align"] is None


def test_the_cli_refuses_to_average_models_trained_on_differently_aligned_windows(model, tmp_path, capsys):
    folders = [make_checkpoint(tmp_path / "a", model, align="dis-fast"), make_checkpoint(tmp_path / "b", model)]
    with pytest.raises(SystemExit):
        main([*map(str, folders), "-o", str(tmp_path / "m.onnx")])
    assert "were trained on windows aligned in different ways (" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_the_plugin_accepts_the_export(model, tmp_path):
    from vs_dvd import model as runtime_model

    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    info = runtime_model.load(path)
    assert info.architecture == {"name": "DBN", "width": 4, "head": "residual", "gate": False} and not info.placeholder


def test_exporting_leaves_the_callers_model_as_it_was(tmp_path):
    model = trained_like(DBN(DBNConfig(width=4))).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_onnx(model, tmp_path / "m.onnx")
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
