"""The vs-dvd command line (python -m vs_dvd): info, selftest, engines, deblur and render, each run as a user
runs it, in a subprocess, on real VapourSynth, ffmpeg, ONNX Runtime, OpenVINO, TensorRT-RTX and Ray."""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vs_dvd
from demo.vspipe import environment
from plugin_helpers import TESTS, ort_only_onnx
from vs_dvd import backends, cli, hardware

ROOT = TESTS.parent
FRAMES = 12  # of the tiny input: 0.5 s at 24 fps


def vs_dvd_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vs_dvd", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600)


def probe(path: Path) -> dict:
    return json.loads(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format",
                                      "-of", "json", str(path)], capture_output=True, check=True).stdout)


def frame_md5s(path: Path) -> list[str]:
    lines = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                           capture_output=True, check=True, text=True).stdout.splitlines()
    return [line.rsplit(",", 1)[-1].strip() for line in lines if not line.startswith("#")]


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory) -> Path:
    """64x48 H.264 test pattern tagged BT.709, AAC sine audio and a title: what deblur must carry over."""
    path = tmp_path_factory.mktemp("input") / "tiny.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=24:duration=0.5",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", "-colorspace", "bt709", "-c:a", "aac", "-metadata", "title=tiny clip",
                    "-shortest", str(path)], check=True)
    return path


@pytest.fixture
def cache_env(cache_home) -> dict:
    return {**os.environ, "XDG_CACHE_HOME": str(cache_home)}


# -- info ---------------------------------------------------------------------------------------

def test_info_says_which_backend_auto_picks_and_why_it_passed_over_the_others():
    chosen, passed = backends.auto_choice()
    result = vs_dvd_cli("info")
    assert result.returncode == 0, result.stderr
    assert f"auto: {chosen}" in result.stdout
    for name, reason in passed.items():
        assert f"passed over: {reason}" in result.stdout
    assert f"vs-dvd {vs_dvd.__version__}" in result.stdout


def test_info_says_what_fp16_computes_in_on_ov_int8_from_the_bundled_ir_where_it_pays():
    if not backends.runtime_version("ov"):
        pytest.skip("OpenVINO is not installed")
    from vs_dvd.backends.ov import int8_pays

    ov_line = next(line for line in vs_dvd_cli("info").stdout.splitlines() if line.startswith("  ov "))
    assert ("computes in int8 from the bundled model's int8 IR" in ov_line) == int8_pays(), ov_line


def test_info_lists_every_cpu_feature_that_matters_as_present_or_missing():
    cpu_line = next(line for line in vs_dvd_cli("info").stdout.splitlines() if line.startswith("CPU: "))
    assert hardware.cpu_name() in cpu_line
    for name, present in hardware.cpu_features().items():
        assert name in cpu_line.split("without")[0 if present else 1]


# -- selftest -----------------------------------------------------------------------------------

def test_selftest_passes_on_the_cpu_backends_with_the_bundled_model():
    result = vs_dvd_cli("selftest", "--backend", "ov")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cpu   fp16=False reference" in result.stdout
    if backends.runtime_version("ov"):
        assert result.stdout.count("PASS") == 3  # ov in fp32, in half precision and from the int8 IR
    assert result.stdout.strip().endswith("selftest passed")


def test_selftest_fails_with_exit_1_naming_a_model_that_cannot_be_loaded(tmp_path):
    missing = tmp_path / "missing.onnx"
    result = vs_dvd_cli("selftest", "--model", str(missing))
    assert result.returncode == 1
    assert "FAIL" in result.stdout and str(missing) in result.stdout
    assert result.stdout.strip().endswith("selftest FAILED")


def test_selftest_fails_with_exit_1_when_a_backend_cannot_run_the_model(tmp_path):
    if not backends.runtime_version("ov"):
        pytest.skip("OpenVINO is not installed")
    result = vs_dvd_cli("selftest", "--model", str(ort_only_onnx(tmp_path / "ort_only.onnx")), "--backend", "ov")
    assert result.returncode == 1
    assert "cpu   fp16=False reference" in result.stdout
    assert "ov    fp16=False FAIL: dvd.Deblur: backend='ov': OpenVINO cannot run model" in result.stdout


# -- engines ------------------------------------------------------------------------------------

def test_engines_list_on_an_empty_cache_says_there_are_none(cache_env):
    result = vs_dvd_cli("engines", "list", env=cache_env)
    assert result.returncode == 0 and "0 engine(s)" in result.stdout


def test_engines_build_caches_what_list_shows_and_clear_removes(cache_env, cache_home, model_path):
    if not backends.runtime_version("trt"):
        pytest.skip("no TensorRT is installed")
    built = vs_dvd_cli("engines", "build", "60x44", "--model", str(model_path), env=cache_env)
    assert built.returncode == 0, built.stderr
    assert "60x44:" in built.stdout and "(built," in built.stdout
    listed = vs_dvd_cli("engines", "list", env=cache_env).stdout
    assert "1 engine(s)" in listed and f"{model_path.name} " in listed and "fp16, 64x48" in listed  # padded to 8
    cleared = vs_dvd_cli("engines", "clear", env=cache_env)
    assert "removed 1 engine(s)" in cleared.stdout
    assert not list((cache_home / "vs-dvd" / "engines").glob("*.engine*"))


def test_engines_clear_leaves_an_engine_whose_build_holds_its_lock(cache_env, cache_home):
    from filelock import FileLock

    folder = cache_home / "vs-dvd" / "engines"
    folder.mkdir(parents=True)
    (folder / "done.engine").write_bytes(b"engine")
    (folder / "building.engine").write_bytes(b"half an engine")
    with FileLock(folder / "building.engine.lock"):  # as trt_build.ensure_engine holds it while building
        result = vs_dvd_cli("engines", "clear", env=cache_env)
    assert "removed 1 engine(s)" in result.stdout and "left 1 being built now: building.engine" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["building.engine", "building.engine.lock"]


def test_engines_build_without_tensorrt_names_the_install(cache_env):
    if importlib.util.find_spec("tensorrt"):
        pytest.skip("NVIDIA TensorRT is installed, so TRT_BUILD_FLAVOUR=tensorrt finds it")
    result = vs_dvd_cli("engines", "build", "64x48", env={**cache_env, "TRT_BUILD_FLAVOUR": "tensorrt"})
    assert result.returncode == 1 and "pip install 'vs-dvd[trt]'" in result.stderr


# -- deblur -------------------------------------------------------------------------------------

def test_deblur_options_are_the_arguments_of_deblur():
    deblur_parser = cli.parser()._subparsers._group_actions[0].choices["deblur"]
    options = {action.dest.removeprefix("deblur_") for action in deblur_parser._actions
               if action.dest.startswith("deblur_")}
    assert options == set(list(inspect.signature(vs_dvd.deblur).parameters)[1:])


def test_deblur_renders_every_frame_and_keeps_the_audio_and_metadata(tiny_video, tmp_path, model_path):
    out = tmp_path / "out.mkv"
    result = vs_dvd_cli("deblur", str(tiny_video), str(out), "--model", str(model_path), "--backend", "cpu")
    assert result.returncode == 0, result.stderr
    streams = probe(out)
    video, = [s for s in streams["streams"] if s["codec_type"] == "video"]
    assert int(video["nb_read_frames"]) == FRAMES and (video["width"], video["height"]) == (64, 48)
    assert video["color_space"] == "bt709"
    assert [s["codec_name"] for s in streams["streams"] if s["codec_type"] == "audio"] == ["aac"]
    assert streams["format"]["tags"]["title"] == "tiny clip"
    assert frame_md5s(out) != frame_md5s(tiny_video)  # deblurred, not copied
    assert [p.name for p in tmp_path.iterdir()] == ["out.mkv"]  # no temporary file left


def test_deblur_reads_the_same_frames_with_pyav_as_with_bestsource(tiny_video, tmp_path, model_path):
    import vapoursynth as vs

    if not hasattr(vs.core, "bs"):
        pytest.skip("bestsource is not installed")
    outputs = {}
    for reader in ("pyav", "bestsource"):
        outputs[reader] = tmp_path / f"{reader}.mkv"
        result = vs_dvd_cli("deblur", str(tiny_video), str(outputs[reader]), "--source", reader,
                            "--model", str(model_path), "--backend", "cpu", "--encode", "-c:v ffv1")
        assert result.returncode == 0, result.stderr
    assert frame_md5s(outputs["pyav"]) == frame_md5s(outputs["bestsource"])


def test_the_pyav_reader_gives_the_same_frames_in_any_order(tiny_video):
    from plugin_helpers import planes
    from vs_dvd.cli.source import PyAVSource

    forward = [planes(f) for f in PyAVSource(tiny_video).clip().frames(close=True)]
    reader = PyAVSource(tiny_video)
    reader._keep = 2  # far fewer than the clip: each request below is further back than the frames kept
    backward = reader.clip()
    assert len(forward) == FRAMES
    for n in reversed(range(FRAMES)):
        assert (planes(backward.get_frame(n)) == forward[n]).all()


def test_deblur_refuses_to_write_over_its_input(tiny_video):
    before = hashlib.sha256(tiny_video.read_bytes()).hexdigest()
    result = vs_dvd_cli("deblur", str(tiny_video), str(tiny_video), "-y")
    assert result.returncode == 2 and "is IN" in result.stderr
    assert hashlib.sha256(tiny_video.read_bytes()).hexdigest() == before


def test_deblur_that_fails_leaves_neither_out_nor_a_temporary_file(tiny_video, tmp_path, model_path):
    result = vs_dvd_cli("deblur", str(tiny_video), str(tmp_path / "out.mkv"), "--model", str(model_path),
                        "--backend", "cpu", "--encode", "-c:v no-such-codec")
    assert result.returncode == 1 and "ffmpeg failed" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_deblur_without_ffmpeg_says_how_to_install_it(tiny_video, tmp_path):
    result = vs_dvd_cli("deblur", str(tiny_video), str(tmp_path / "out.mkv"),
                        env={**os.environ, "PATH": str(Path(sys.executable).parent)})
    assert result.returncode == 2 and "ffmpeg is not installed" in result.stderr


def test_deblur_of_a_missing_input_names_it(tmp_path):
    result = vs_dvd_cli("deblur", str(tmp_path / "none.mp4"), str(tmp_path / "out.mkv"))
    assert result.returncode == 2 and f"IN {tmp_path / 'none.mp4'}: no such file" in result.stderr


# -- render -------------------------------------------------------------------------------------

def test_render_renders_the_script_through_the_fleet(tmp_path, model_path):
    pytest.importorskip("ray")
    script = tmp_path / "s.vpy"
    script.write_text(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nimport vapoursynth as vs\n"
                      "from plugin_helpers import moving_clip\n"
                      f"clip = vs.core.dvd.Deblur(moving_clip(64, 48, 16), model={str(model_path)!r}, backend='cpu')\n"
                      "clip.resize.Bicubic(format=vs.YUV444P8, matrix=1).set_output()\n")
    env = environment(tmp_path / "config")
    result = subprocess.run([sys.executable, "-m", "vs_dvd", "render", str(script), str(tmp_path / "out.mkv"),
                             "--chunk-frames", "8", "--workers", "1"], cwd=ROOT, capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "16 frames in 2 chunks" in result.stderr
    assert len(frame_md5s(tmp_path / "out.mkv")) == 16


def test_the_command_line_loads_no_runtime_until_a_command_runs():
    code = ("import sys, vs_dvd.cli; vs_dvd.cli.parser(); "
            "loaded = {'torch', 'openvino', 'onnxruntime', 'ray', 'av', 'tensorrt_rtx_bindings'} & set(sys.modules); "
            "print(sorted(loaded)); sys.exit(bool(loaded))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
