"""training.quantise and int8 on the ov backend: an NNCF int8 IR written beside the model, recorded in its sidecar,
refused when stale, run by ``int8=True`` close to fp32, and chosen when left out only where it pays."""
import hashlib
import json
import shutil

import numpy as np
import pytest
import vapoursynth as vs

import vs_dvd
from plugin_helpers import TESTS, array_clip, conv_onnx, dbn_onnx, moving_clip, pattern, planes, run_onnx
from training_helpers import make_dataset, texture
from vs_dvd import backends
from vs_dvd import model as models

pytestmark = pytest.mark.skipif(not backends.runtime_version("ov"),
                                reason="OpenVINO is not installed (pip install 'vs-dvd[ov]')")
SIZE = (24, 32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    clips = {f"c{i}": (np.stack([texture(SIZE, seed=10 * i + k) for k in range(4)]),) * 2 + ("train",)
             for i in range(2)}
    return make_dataset(tmp_path_factory.mktemp("data"), clips)


@pytest.fixture(scope="module")
def quantised(tmp_path_factory, data):
    """A width-4 gated DBN with random weights and its int8 IR."""
    from training.quantise import quantise

    path = dbn_onnx(tmp_path_factory.mktemp("model") / "gated.onnx", gate=True)
    quantise(path, [data], samples=4, crop=16)
    return path


def copy_model(path, to):
    for file in path.parent.iterdir():
        shutil.copy(file, to / file.name)
    return to / path.name


def test_the_int8_ir_lies_beside_the_model_recorded_with_its_hashes_in_the_sidecar(quantised):
    entry = json.loads(quantised.with_suffix(".json").read_text())["int8"]
    xml, binary = quantised.with_suffix(".int8.xml"), quantised.with_suffix(".int8.bin")
    assert (entry["xml"], entry["bin"]) == (xml.name, binary.name)
    assert entry["sha256"] == {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (xml, binary)}
    assert entry["onnx_sha256"] == hashlib.sha256(quantised.read_bytes()).hexdigest()
    assert entry["kept_float"]["/F6_2/.*"] > 0 and entry["kept_float"][".*gate.*"] > 0
    assert models.load(quantised).int8 == xml
    assert sorted(f.name for f in quantised.parent.iterdir()) == sorted(  # no temporary file left behind
        [quantised.name, quantised.with_suffix(".json").name, xml.name, binary.name])


def test_int8_on_ov_runs_close_to_fp32(quantised):
    clip = moving_clip(64, 48, 6, vs.RGBS)
    int8 = vs_dvd.deblur(clip, model=str(quantised), backend="ov", fp16=False, int8=True)
    fp32 = vs_dvd.deblur(clip, model=str(quantised), backend="ov", fp16=False, int8=False)
    differences = [np.abs(planes(int8.get_frame(n)) - planes(fp32.get_frame(n))).max() for n in range(6)]
    assert 0 < max(differences) <= 0.05


def test_the_ov_backend_loads_the_int8_ir_when_asked(quantised):
    info = models.load(quantised)
    frames = [pattern(n, *SIZE) for n in range(5)]
    outputs = {int8: backends.create("ov", info, device_id=0, fp16=False, num_streams=1, num_threads=1,
                                     shape=SIZE, int8=int8).infer(frames) for int8 in (False, True)}
    assert not np.array_equal(outputs[False], outputs[True])


def test_an_int8_file_that_does_not_match_its_hash_is_refused(quantised, tmp_path):
    path = copy_model(quantised, tmp_path)
    binary = path.with_suffix(".int8.bin")
    binary.write_bytes(binary.read_bytes()[:-4] + b"\0\0\0\0")
    info = models.load(path)
    assert info.int8 is None and "does not match the hash" in info.int8_problem
    with pytest.raises(vs.Error, match=r"int8=True, but model .*does not match.*python -m training.quantise"):
        vs_dvd.deblur(moving_clip(64, 48, 6, vs.RGBS), model=str(path), backend="ov", int8=True)


def test_an_int8_ir_made_from_another_onnx_is_refused_as_stale(quantised, tmp_path):
    """A replaced model keeps an old int8 entry only if its sidecar is edited by hand: it is not used."""
    path = dbn_onnx(tmp_path / "gated.onnx", gate=True, seed=1)
    side = json.loads(path.with_suffix(".json").read_text())
    old = json.loads(quantised.with_suffix(".json").read_text())["int8"]
    for suffix in (".int8.xml", ".int8.bin"):
        shutil.copy(quantised.with_suffix(suffix), path.with_suffix(suffix))
    path.with_suffix(".json").write_text(json.dumps({**side, "int8": old}))
    info = models.load(path)
    assert info.int8 is None and "made from another ONNX file" in info.int8_problem


def test_a_model_without_int8_ir_names_the_command_that_makes_it(model_path):
    with pytest.raises(vs.Error, match=r"int8=True, but model .*has no int8 version.*python -m training.quantise "
                                       r".*DATASET_DIR"):
        vs_dvd.deblur(moving_clip(64, 48, 6, vs.RGBS), model=str(model_path), backend="ov", int8=True)


def test_int8_is_refused_on_the_cpu_backend(quantised):
    with pytest.raises(vs.Error, match=r"int8=True runs on backend='ov'.*backend='cpu'; pass backend='ov'"):
        vs_dvd.deblur(moving_clip(64, 48, 6, vs.RGBS), model=str(quantised), backend="cpu", int8=True)


def test_left_out_int8_is_used_on_ov_with_fp16_where_it_pays(quantised, model_path):
    from vs_dvd.backends.ov import int8_pays

    with_ir, without = models.load(quantised), models.load(model_path)
    assert backends.use_int8(None, "ov", with_ir, fp16=True) == int8_pays()
    assert not backends.use_int8(None, "ov", with_ir, fp16=False)
    assert not backends.use_int8(None, "cpu", with_ir, fp16=True)
    assert not backends.use_int8(None, "ov", without, fp16=True)


def test_int8_pays_on_x86_cpus_with_avx2_read_from_their_flags(tmp_path):
    from vs_dvd.backends.ov import int8_pays

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse sse4_2 avx\n")
    assert not int8_pays(str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse sse4_2 avx avx2 fma\n")
    assert int8_pays(str(cpuinfo))
    assert not int8_pays(str(tmp_path / "missing"))


def test_a_model_whose_node_names_changed_is_refused_before_quantising(tmp_path):
    from training.quantise import kept_float
    from vs_dvd.backends.ov import import_openvino

    network = import_openvino().Core().read_model(str(conv_onnx(tmp_path / "conv.onnx")))
    with pytest.raises(ValueError, match=r"KEEP_FLOAT patterns .*/F6_1.* match no node.*training/quantise.py"):
        kept_float(network, gated=False)


def test_a_model_that_does_not_match_its_sidecar_is_not_quantised(data, tmp_path, capsys):
    from training.quantise import main

    path = dbn_onnx(tmp_path / "m.onnx")
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(SystemExit):
        main([str(path), str(data), "--samples", "2", "--crop", "16"])
    assert "does not match its sidecar" in capsys.readouterr().err
    assert not path.with_suffix(".int8.xml").exists() and "int8" not in json.loads(path.with_suffix(".json").read_text())


def test_quantising_sends_no_telemetry(data, tmp_path):
    """NNCF reports usage through openvino_telemetry, as OpenVINO does; training.quantise imports it stubbed."""
    import subprocess
    import sys

    path = dbn_onnx(tmp_path / "m.onnx")
    script = ("import os\n"
              "os.fork = None  # any fork fails loudly\n"
              "from training.quantise import main\n"
              f"main([{str(path)!r}, {str(data)!r}, '--samples', '2', '--crop', '16'])\n"
              "from nncf.telemetry import wrapper\n"
              "print(type(wrapper.telemetry).__name__)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "MagicMock" and path.with_suffix(".int8.xml").is_file()


def test_evaluate_measures_the_int8_ir_close_to_fp32(quantised, data):
    from training.evaluate import evaluate_onnx

    fp32 = evaluate_onnx(quantised, [data], split="train", runtime="openvino")
    int8 = evaluate_onnx(quantised, [data], split="train", runtime="openvino", int8=True)
    assert "int8" in int8["runtime"] and "int8" not in fp32["runtime"]
    assert int8["output_psnr"] != fp32["output_psnr"] and abs(int8["output_psnr"] - fp32["output_psnr"]) < 1


def test_evaluate_int8_is_for_openvino_only(quantised, data, capsys):
    from training.evaluate import main

    with pytest.raises(SystemExit):
        main([str(quantised), str(data), "--int8"])
    assert "--int8 needs --runtime openvino" in capsys.readouterr().err


def shaken_demo_crop() -> list[np.ndarray]:
    """Five 3 x 176 x 240 frames of real shake: the sharp panel of README's demo picture (a real photo), each frame
    the mean of 9 views moving 2 px apart, the camera path turning from left to down-right across the five."""
    from PIL import Image

    sharp = np.asarray(Image.open(TESTS.parent / "docs" / "images" / "demo.jpg"), np.float32)[:, 480:] / 255
    padded = np.pad(sharp, ((24, 24), (24, 24), (0, 0)), mode="reflect")
    frames = []
    for k in range(5):
        angle = np.pi * (1 - k / 4) * 0.75
        views = [padded[24 + round(2 * s * np.sin(angle)):, 24 + round(2 * s * np.cos(angle)):][:176, :240]
                 for s in range(-4, 5)]
        frames.append(np.mean(views, axis=0).transpose(2, 0, 1))
    return frames


def test_the_bundled_int8_ir_follows_fp32_on_real_shake():
    """The bundled model's int8 IR makes fp32's correction, on the plugin's static shapes and on training.evaluate's
    dynamic ones. An IR with F0 and the full-resolution skip quantised fell short of this on static shapes and
    returned its input on dynamic ones."""
    from training.evaluate import runner

    info = models.load()
    assert info.int8 is not None, info.int8_problem
    frames = shaken_demo_crop()
    window = np.concatenate(frames)[None].astype(np.float32)
    centre = frames[2]
    fp32 = run_onnx(info.path, frames) - centre
    static = vs_dvd.deblur(array_clip(frames.__getitem__, 240, 176, 5), backend="ov",
                           fp16=False, int8=True).get_frame(2)
    infer, _ = runner(info.path.read_bytes(), "openvino", fp16=False, int8=info.int8)
    assert np.abs(fp32).mean() > 1e-3  # the shake is strong enough for the model to correct it
    for int8 in (planes(static) - centre, infer(window)[0] - centre):
        assert np.corrcoef(fp32.ravel(), int8.ravel())[0, 1] > 0.98
