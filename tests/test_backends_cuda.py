"""The cuda backend (PyTorch) rebuilds the DBN from the ONNX file's own weights, fp32 or fp16,
and computes what ONNX Runtime computes; a model it cannot rebuild is refused with the backends that
can run it. The rebuild is checked on the CPU; the GPU tests skip without CUDA."""
import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
import pytest
import torch
import vapoursynth as vs

import vs_dvd
from plugin_helpers import dbn_onnx, moving_clip, pattern, planes, run_onnx
from vs_dvd import model as models
from vs_dvd.backends import cuda

SIZE = (24, 32)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def window(start: int = 0) -> list[np.ndarray]:
    return [pattern(n, *SIZE) for n in range(start, start + 5)]


def rebuilt(path) -> np.ndarray:
    """The rebuilt network on ``window()``, on the CPU."""
    network = cuda.load_dbn(models.load(path))
    with torch.inference_mode():
        return network(torch.from_numpy(np.concatenate(window()))[None])[0].numpy()


def with_sidecar(model_path, folder, **architecture):
    """A copy of the model whose sidecar describes another architecture (the .onnx is unchanged)."""
    target = shutil.copy(model_path, folder / "copy.onnx")
    sidecar = json.loads(models.sidecar_path(model_path).read_text())
    sidecar["architecture"].update(architecture)
    models.sidecar_path(target).write_text(json.dumps(sidecar))
    return target


def create(path, fp16: bool = False, num_streams: int = 1):
    return cuda.create(models.load(path), device_id=0, fp16=fp16, num_streams=num_streams, num_threads=0,
                       shape=SIZE)


@pytest.mark.parametrize("head, gate", [("residual", False), ("sigmoid", False), ("residual", True)])
def test_the_rebuilt_network_equals_onnx_runtime(tmp_path, head, gate):
    path = dbn_onnx(tmp_path / f"{head}.onnx", head=head, gate=gate)
    assert np.abs(rebuilt(path) - run_onnx(path, window())).max() <= 1e-5


def test_fp16_weights_behind_cast_nodes_are_read(tmp_path):
    from training.export import export_onnx
    from vs_dvd.network import DBN, DBNConfig

    torch.manual_seed(0)
    path = tmp_path / "half.onnx"
    export_onnx(DBN(DBNConfig(width=4)), path, fp16_weights=True)
    assert json.loads(models.sidecar_path(path).read_text())["weights"] == "float16"
    assert np.abs(rebuilt(path) - run_onnx(path, window())).max() <= 1e-5


def test_weights_reached_through_identity_links_are_read(model_path, tmp_path):
    """Exporters may alias a weight: the initializer has another name, an Identity node gives it the layer's."""
    proto = onnx.load(str(model_path))
    weight = next(init for init in proto.graph.initializer if init.name == "F0.conv.weight")
    weight.name = "shared_weight"
    proto.graph.node.insert(0, onnx.helper.make_node("Identity", ["shared_weight"], ["F0.conv.weight"]))
    path = tmp_path / "aliased.onnx"
    onnx.save(proto, str(path))
    sidecar = json.loads(models.sidecar_path(model_path).read_text())
    sidecar["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    models.sidecar_path(path).write_text(json.dumps(sidecar))
    assert np.abs(rebuilt(path) - run_onnx(path, window())).max() <= 1e-5


def test_a_model_without_sidecar_is_refused_with_the_backends_that_run_it(model_path, tmp_path):
    bare = shutil.copy(model_path, tmp_path / "bare.onnx")
    with pytest.raises(vs.Error, match=r"backend='cuda' rebuilds the DBN from the model's weights, but "
                                       f"model {bare} has no sidecar .*; use backend='cpu' or backend='trt'"):
        cuda.load_dbn(models.load(bare))


def test_a_model_that_is_not_a_dbn_is_refused_with_the_backends_that_run_it(model_path, tmp_path):
    other = with_sidecar(model_path, tmp_path, name="UNet")
    with pytest.raises(vs.Error, match=r"model .* is a 'UNet' according to its sidecar, not a DBN; use backend='cpu'"):
        cuda.load_dbn(models.load(other))


def test_weights_that_do_not_fit_the_sidecars_width_are_refused(model_path, tmp_path):
    wrong = with_sidecar(model_path, tmp_path, width=8)
    with pytest.raises(vs.Error, match=r"is not the DBN of width 8 its sidecar describes \(F0.conv.weight is "
                                       r"\[4, 15, 5, 5\], not \[8, 15, 5, 5\]"):
        cuda.load_dbn(models.load(wrong))


def test_runtime_version_names_torch():
    name, version = cuda.runtime_version().split()
    assert name == "torch" and torch.__version__.startswith(version)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_without_a_cuda_gpu_create_says_which_backends_to_use(model_path):
    with pytest.raises(vs.Error, match="sees no CUDA GPU.*use backend='trt' or 'cpu'"):
        create(model_path)


@needs_cuda
@pytest.mark.parametrize("fp16, limit", [(False, 2e-3), (True, 2e-2)])  # fp32 convolutions may use TF32
def test_on_the_gpu_the_output_matches_onnx_runtime(model_path, fp16, limit):
    backend = create(model_path, fp16=fp16)
    frames = [torch.from_numpy(f).cuda() for f in window()]
    out = backend.infer([f[:, 4:20, 8:24] for f in frames]).cpu().numpy()  # a tile, as tiles.py slices them
    expected = run_onnx(model_path, [np.ascontiguousarray(f[:, 4:20, 8:24]) for f in window()])
    assert out.dtype == np.float32 and np.abs(out - expected).max() <= limit


@needs_cuda
def test_on_the_gpu_concurrent_streams_give_the_results_of_one_at_a_time(model_path):
    backend = create(model_path, num_streams=2)
    windows = [[torch.from_numpy(f).cuda() for f in window(start)] for start in range(6)]
    alone = [backend.infer(w).cpu().numpy() for w in windows]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda w: backend.infer(w).cpu().numpy(), windows))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


@needs_cuda
@pytest.mark.parametrize("align", [None, "dis-fast"])  # aligned windows are warped on the host
def test_deblur_with_the_cuda_backend_matches_the_cpu_backend(tmp_path, align):
    if align:
        pytest.importorskip("cv2")
    model = dbn_onnx(tmp_path / "model.onnx", align=align)
    clip = moving_clip(64, 48, 6, vs.YUV420P8)
    on_gpu = vs_dvd.deblur(clip, model=model, backend="cuda", num_streams=2)
    on_cpu = vs_dvd.deblur(clip, model=model, backend="cpu")
    for n in range(6):
        assert np.abs(planes(on_gpu.get_frame(n)) - planes(on_cpu.get_frame(n))).max() <= 2
