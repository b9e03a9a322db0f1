"""Choosing the backend: "auto" takes TensorRT, else PyTorch on CUDA, else OpenVINO, else ONNX Runtime
on the CPU; a named backend
that cannot run here is a vs.Error that says what to install or which backend to use instead.
Where a test needs a GPU this machine may not have, it stands in for the CUDA driver's count only."""
import os

import pytest
import vapoursynth as vs

from vs_dvd import backends


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(backends, "cuda_devices", lambda: 1)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(backends, "cuda_devices", lambda: 0)


def installed(monkeypatch, *names: str) -> None:
    """Only the runtimes of ``names`` count as installed (the modules themselves stay real)."""
    real = backends.runtime_version
    monkeypatch.setattr(backends, "runtime_version", lambda name: real(name) if name in names else None)


def test_auto_prefers_tensorrt_on_a_gpu(one_gpu):
    if not backends.runtime_version("trt"):
        pytest.skip("TensorRT is not installed")
    assert backends.resolve("auto", 0) == "trt"


def test_auto_skips_a_tensorrt_that_cannot_build_for_the_gpu(one_gpu, monkeypatch):
    if not (backends.runtime_version("trt") or "").startswith("TensorRT-RTX"):
        pytest.skip("TensorRT-RTX is not the installed flavour")
    import vs_dvd.trt_build.gpu
    monkeypatch.setattr(vs_dvd.trt_build.gpu, "describe", lambda index: {"name": "NVIDIA H100", "compute_capability": "9.0"})
    monkeypatch.setattr(backends, "_torch_sees_cuda", lambda: True)
    assert backends.resolve("auto", 0) == "cuda"


def test_auto_falls_back_to_pytorch_on_a_gpu_without_tensorrt(one_gpu, monkeypatch):
    installed(monkeypatch, "cuda", "cpu")
    monkeypatch.setattr(backends, "_torch_sees_cuda", lambda: True)
    assert backends.resolve("auto", 0) == "cuda"


def test_auto_uses_the_cpu_when_pytorch_cannot_see_the_gpu(one_gpu, monkeypatch):
    installed(monkeypatch, "cuda", "cpu")
    monkeypatch.setattr(backends, "_torch_sees_cuda", lambda: False)
    assert backends.resolve("auto", 0) == "cpu"


def test_auto_uses_the_cpu_without_a_gpu(no_gpu, monkeypatch):
    installed(monkeypatch, "trt", "cuda", "cpu")
    assert backends.resolve("auto", 0) == "cpu"


def test_auto_prefers_openvino_on_the_cpu_when_it_is_installed(no_gpu):
    if not backends.runtime_version("ov"):
        pytest.skip("OpenVINO is not installed")
    assert backends.resolve("auto", 0) == "ov"


@pytest.mark.parametrize("name", ["trt", "cuda"])
def test_a_gpu_backend_without_a_gpu_says_to_use_the_cpu(no_gpu, name):
    if not backends.runtime_version(name):
        pytest.skip(f"the {name} runtime is not installed")
    with pytest.raises(vs.Error, match=f"backend='{name}' needs an NVIDIA GPU.*use backend='cpu'"):
        backends.resolve(name, 0)


def test_a_missing_tensorrt_says_how_to_install_it(one_gpu, monkeypatch):
    installed(monkeypatch, "cuda", "cpu")
    with pytest.raises(vs.Error, match=r"backend='trt' needs TensorRT.*pip install tensorrt.*or use "
                                       "backend='cuda' or 'cpu'"):
        backends.resolve("trt", 0)


def test_a_missing_pytorch_says_how_to_install_it(one_gpu, monkeypatch):
    installed(monkeypatch, "trt", "cpu")
    with pytest.raises(vs.Error, match=r"backend='cuda' needs PyTorch.*vs-dvd\[cuda\].*backend='cpu'"):
        backends.resolve("cuda", 0)


def test_a_missing_openvino_says_how_to_install_it(no_gpu, monkeypatch):
    installed(monkeypatch, "cpu")
    with pytest.raises(vs.Error, match=r"backend='ov' needs OpenVINO.*vs-dvd\[ov\].*backend='cpu'"):
        backends.resolve("ov", 0)


def test_the_cpu_is_the_only_device_of_the_cpu_backends(no_gpu):
    for name in backends.ON_THE_CPU:
        if backends.runtime_version(name):
            assert backends.resolve(name, 0) == name
            with pytest.raises(vs.Error, match=f"device_id=1 is out of range: backend='{name}' has a single "
                                               "device, 0"):
                backends.resolve(name, 1)


def test_a_device_id_past_the_last_gpu_is_refused(one_gpu):
    if not backends.runtime_version("cuda"):
        pytest.skip("PyTorch is not installed")
    with pytest.raises(vs.Error, match=r"device_id=1 is out of range: backend='cuda' has 1 CUDA GPU\(s\); "
                                       "pass device_id between 0 and 0"):
        backends.resolve("cuda", 1)


def test_every_backend_module_exists_and_reports_its_runtime():
    assert all(backends.module(name) is not None for name in backends.NAMES)
    assert backends.runtime_version("cpu").startswith("onnxruntime ")
    assert backends.module("nonexistent") is None and backends.runtime_version("nonexistent") is None


def test_the_cpu_backends_can_use_some_of_the_host_memory():
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < backends.free_memory("cpu", 0) <= total and 0 < backends.free_memory("ov", 0) <= total
