"""trt_build: real TensorRT-RTX ahead-of-time builds on the CPU, precision lowering measured through
ONNX Runtime, the cache rules, --check, and the CLI. Running an engine needs a GPU: those tests skip."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from filelock import FileLock
from onnx import TensorProto, numpy_helper

from vs_dvd.trt_build import BuildError, Profile, build_engine, cache_key, engine_fields, ensure_engine, sidecar_path
from vs_dvd.trt_build.__main__ import main
from vs_dvd.trt_build.build import KEY_FIELDS
from vs_dvd.trt_build.cache import engine_path
from vs_dvd.trt_build.check import Measurement, check_engine, engine_unrunnable, psnr, read_frames
from vs_dvd.trt_build.files import atomic_write_bytes
from vs_dvd.trt_build.flavour import FlavourError, load
from vs_dvd.trt_build.precision import emulated_in_fp32, lower_precision, pinned_nodes
from vs_dvd.trt_build.profile import parse_shape
from plugin_helpers import dbn_onnx
from trt_helpers import BUNDLED, ROOT, random_dbn_onnx, requires_engine_gpu, write_clip

SMALL = Profile.static((64, 64))
RTX_ONLY = pytest.mark.skipif(load().name != "tensorrt-rtx", reason="TensorRT-RTX's GPU list")


@pytest.fixture(scope="module")
def random_onnx(tmp_path_factory) -> Path:
    return random_dbn_onnx(tmp_path_factory.mktemp("model") / "w4.onnx")


@pytest.fixture(scope="module")
def bundled_engines(tmp_path_factory) -> dict[str, dict]:
    """The bundled model built once per precision at 64x64: precision -> sidecar."""
    folder = tmp_path_factory.mktemp("engines")
    return {p: build_engine(BUNDLED, folder / f"dbn-{p}.engine", precision=p, profile=SMALL)
            for p in ("fp16", "fp32", "bf16")}


def run_onnx(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"frames": x})[0]


def frames(size: tuple[int, int] = (64, 64), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, 15, *size), np.float32)


def elem_types(model: onnx.ModelProto) -> dict[str, int]:
    """Initializer name -> ONNX element type."""
    return {i.name: i.data_type for i in model.graph.initializer}


# --- shapes -------------------------------------------------------------------------------------

def test_shapes_are_height_by_width_multiples_of_8():
    assert parse_shape("720x1280") == (720, 1280)
    with pytest.raises(ValueError, match="multiples of 8.*use 104x104"):
        parse_shape("100x100")
    with pytest.raises(ValueError, match="expected HEIGHTxWIDTH"):
        parse_shape("1280*720")


def test_profile_needs_min_at_most_opt_at_most_max():
    assert Profile.static((64, 72)).to_dict() == {"min": [64, 72], "opt": [64, 72], "max": [64, 72]}
    assert str(Profile((64, 64), (720, 1280), (1088, 1920))) == "64x64 to 1088x1920 (opt 720x1280)"
    with pytest.raises(ValueError, match="min <= opt <= max"):
        Profile((128, 128), (64, 64), (256, 256))
    with pytest.raises(ValueError, match="max shape 60x64.*use 64x64"):
        Profile((8, 8), (16, 16), (60, 64))


# --- precision ----------------------------------------------------------------------------------

def test_fp16_lowering_keeps_inputs_outputs_centre_slice_and_head_in_fp32(random_onnx):
    model = onnx.load(random_onnx)
    low = lower_precision(model, "fp16")
    assert [v.type.tensor_type.elem_type for v in (*low.graph.input, *low.graph.output)] == [TensorProto.FLOAT] * 2
    assert [n.op_type for n in pinned_nodes(model, "fp16")] == ["Slice", "Add", "Clip"]
    weights = {name: t for name, t in elem_types(low).items() if ".conv." in name}
    assert len(weights) == 44 and set(weights.values()) == {TensorProto.FLOAT16}
    assert model.graph.initializer[0].data_type == TensorProto.FLOAT  # the input model is left alone


def test_fp16_centre_frame_and_residual_head_never_pass_through_fp16(random_onnx):
    low = lower_precision(onnx.load(random_onnx), "fp16")
    inferred = onnx.shape_inference.infer_shapes(low).graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.value_info, *inferred.output)}
    residual = [n for n in low.graph.node if n.op_type == "Add"][-1]
    centre = next(n for n in low.graph.node if n.op_type == "Slice").output[0]
    clip = next(n for n in low.graph.node if n.op_type == "Clip")
    assert centre in residual.input and clip.input[0] == residual.output[0]
    assert {types[t] for t in (centre, *residual.input, *residual.output)} == {TensorProto.FLOAT}


def test_fp16_keeps_a_gated_models_whole_gate_in_fp32_and_matches_it_above_50_db(tmp_path):
    model = onnx.load(dbn_onnx(tmp_path / "gated.onnx", gate=True))
    pinned = [n.op_type for n in pinned_nodes(model, "fp16")]
    assert pinned.count("Conv") == 6 and pinned[-1] == "Add"  # G0-G5; centre + gate * change
    assert "Concat" in pinned and "Resize" in pinned and "Sigmoid" in pinned
    x = frames()
    assert psnr(run_lowered(model, "fp16", x), run_onnx(model, x)) >= 50


def run_lowered(model: onnx.ModelProto, precision: str, x: np.ndarray) -> np.ndarray:
    """``model`` lowered to ``precision``, emulated on ONNX Runtime's CPU."""
    return run_onnx(emulated_in_fp32(lower_precision(model, precision)), x)


@pytest.mark.parametrize("precision, low", [("fp16", TensorProto.FLOAT16), ("bf16", TensorProto.BFLOAT16)])
def test_emulation_rounds_every_low_precision_result_and_computes_in_fp32(random_onnx, precision, low):
    lowered = lower_precision(onnx.load(random_onnx), precision)
    emulated = emulated_in_fp32(lowered)
    assert set(elem_types(emulated).values()) == {TensorProto.FLOAT}
    typed = onnx.shape_inference.infer_shapes(lowered).graph
    low_results = [v.name for v in typed.value_info if v.type.tensor_type.elem_type == low]
    nodes = list(emulated.graph.node)
    rounding = [i for i, n in enumerate(nodes) if n.op_type == "Cast" and n.attribute[0].i == low]
    assert len(rounding) == len(low_results) > 20  # the trunk's convolutions, ReLUs and skip Adds
    assert all(nodes[i + 1].op_type == "Cast" and nodes[i + 1].input[0] == nodes[i].output[0] for i in rounding)


@pytest.mark.parametrize("precision, target_db", [("fp16", 50), ("bf16", 40)])
def test_lowered_graph_rounds_but_stays_above_its_target(random_onnx, precision, target_db):
    model, x = onnx.load(random_onnx), frames()
    reference = run_onnx(model, x)
    assert reference.std() > 0.05  # a real picture, not a constant
    db = psnr(run_lowered(model, precision, x), reference)
    assert target_db <= db < 120  # rounded (not fp32 throughout), yet within the target


def test_bf16_costs_more_than_fp16(random_onnx):
    model, x = onnx.load(random_onnx), frames()
    reference = run_onnx(model, x)
    assert psnr(run_lowered(model, "bf16", x), reference) < psnr(run_lowered(model, "fp16", x), reference) - 10


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_identity_placeholder_stays_bit_exact(identity_path, precision):
    # End to end, with every low-precision tensor rounded: the centre frame never passes through one.
    x = frames()
    assert np.array_equal(run_lowered(onnx.load(identity_path), precision, x), x[:, 6:9])


def test_fp16_weights_behind_casts_feed_the_trunk_directly():
    model = onnx.load(BUNDLED)  # exported with --fp16-weights
    low = lower_precision(model, "fp16")
    assert elem_types(low)["F0.conv.weight"] == TensorProto.FLOAT16
    weight_casts = [n.input[0] for n in low.graph.node if n.op_type == "Cast" and n.input[0] in elem_types(low)]
    assert all(name.startswith("gate.") for name in weight_casts)  # only the gate, kept fp32, reads fp32
    x = frames()
    assert psnr(run_onnx(emulated_in_fp32(low), x), run_onnx(model, x)) >= 50


def test_bf16_keeps_conv_transpose_fp32_and_raises_the_opset(random_onnx):
    model = onnx.load(random_onnx)
    low = lower_precision(model, "bf16")
    assert low.opset_import[0].version == 22
    types = elem_types(low)
    assert {types[f"U{i}.conv.weight"] for i in (1, 2, 3)} == {TensorProto.FLOAT}
    assert types["F0.conv.weight"] == TensorProto.BFLOAT16
    assert sorted(n.op_type for n in pinned_nodes(model, "bf16")) == sorted(
        ["Slice", "ConvTranspose", "ConvTranspose", "ConvTranspose", "Add", "Clip"])


def test_fp32_lowering_changes_nothing(random_onnx):
    model = onnx.load(random_onnx)
    assert lower_precision(model, "fp32") == model


# --- builds -------------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp16", "fp32", "bf16"])
def test_builds_the_bundled_model_on_the_cpu(bundled_engines, tmp_path, precision):
    sidecar = bundled_engines[precision]
    assert sidecar["precision"] == precision and sidecar["flavour"] == load().name
    assert sidecar["version"] == load().version
    assert sidecar["profile"] == {"min": [64, 64], "opt": [64, 64], "max": [64, 64]}
    assert (sidecar["input"], sidecar["output"], sidecar["model"]) == ("frames", "sharp", "dbn.onnx")
    assert sidecar["engine_bytes"] > 1 << 20 and sidecar["build_seconds"] > 0 and sidecar["built_at"]


def test_sidecar_on_disk_describes_the_engine_file(tmp_path, random_onnx):
    engine = tmp_path / "w4.engine"
    returned = build_engine(random_onnx, engine, precision="fp16", profile=Profile((8, 8), (64, 64), (128, 96)))
    assert json.loads(sidecar_path(engine).read_text()) == returned
    assert returned["engine_bytes"] == engine.stat().st_size
    assert returned["profile"] == {"min": [8, 8], "opt": [64, 64], "max": [128, 96]}


def test_fp16_engine_is_about_half_the_fp32_one(bundled_engines):
    ratio = bundled_engines["fp16"]["engine_bytes"] / bundled_engines["fp32"]["engine_bytes"]
    assert 0.4 < ratio < 0.6


def test_builds_a_gated_model(tmp_path):
    gated = dbn_onnx(tmp_path / "gated.onnx", gate=True)
    sidecar = build_engine(gated, tmp_path / "gated.engine", precision="fp16", profile=Profile((8, 8), (64, 64), (128, 96)))
    assert sidecar["engine_bytes"] == (tmp_path / "gated.engine").stat().st_size


@RTX_ONLY
def test_rtx_builds_for_the_requested_compute_capabilities(tmp_path, random_onnx):
    sidecar = build_engine(random_onnx, tmp_path / "w4.engine", profile=SMALL, compute_capabilities=["8.6", "8.9"])
    assert sidecar["targets"] == ["8.6", "8.9"]
    assert cache_key(sidecar) != cache_key(engine_fields(random_onnx, precision="fp16", profile=SMALL))


def test_unparsable_onnx_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf \xff\xff")
    with pytest.raises(BuildError, match=r"junk\.onnx: not an ONNX model.*training/export\.py"):
        build_engine(junk, tmp_path / "junk.engine", profile=SMALL)
    assert not (tmp_path / "junk.engine").exists()


# --- the cache key ------------------------------------------------------------------------------

def test_cache_key_of_the_settings_equals_the_key_of_the_built_engine(bundled_engines):
    fields = engine_fields(BUNDLED, precision="fp16", profile=SMALL)
    assert cache_key(fields) == cache_key(bundled_engines["fp16"])


@pytest.mark.parametrize("field", KEY_FIELDS)
def test_cache_key_changes_with_each_key_field(field):
    fields = engine_fields(BUNDLED, precision="fp16", profile=SMALL)
    assert cache_key({**fields, field: "something else"}) != cache_key(fields)
    assert cache_key({**fields, "built_at": "later"}) == cache_key(fields)  # not a key field


# --- the cache ----------------------------------------------------------------------------------

def test_cache_builds_once_then_reuses(tmp_path):
    first = ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL)
    second = ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL)
    assert (first.built, second.built) == (True, False)
    assert second.data == first.data == first.path.read_bytes()
    assert first.path.name.endswith(f"-fp16-64x64-{cache_key(first.sidecar)}.engine")


def test_truncated_engine_is_rebuilt_not_loaded(tmp_path, caplog):
    path = ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL).path
    path.write_bytes(path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, "vs_dvd.trt_build"):
        again = ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL)
    assert again.built and len(again.data) == again.sidecar["engine_bytes"] > 1000
    assert "truncated" in caplog.text


def test_engine_from_another_version_or_gpu_is_rebuilt(tmp_path, caplog):
    fields = engine_fields(BUNDLED, precision="fp16", profile=SMALL)
    path = engine_path(tmp_path, fields)
    ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL)
    # An engine file copied in from elsewhere: its sidecar says another GPU and TensorRT version.
    foreign = {**json.loads(sidecar_path(path).read_text()), "version": "0.9", "gpu": {"name": "other"}}
    sidecar_path(path).write_text(json.dumps(foreign))
    with caplog.at_level(logging.WARNING, "vs_dvd.trt_build"):
        assert ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL).built
    assert "built for" in caplog.text
    # And an engine cached by another version simply lives under another name.
    assert engine_path(tmp_path, {**fields, "version": "0.9"}) != path


def test_engine_tensorrt_refused_is_rebuilt_once(tmp_path):
    bad = ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL)
    again = ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL,
                          reject=bad.sidecar["engine_sha256"])
    assert again.built
    # A reject naming an engine already replaced (by another process) does not rebuild again.
    assert not ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL, reject="0" * 64).built


def test_two_processes_building_the_same_engine_leave_one_valid_engine(tmp_path):
    script = textwrap.dedent(f"""
        from vs_dvd.trt_build import Profile, ensure_engine, load_flavour
        load_flavour()
        print("ready", flush=True)
        e = ensure_engine({str(BUNDLED)!r}, {str(tmp_path)!r}, precision="fp16", profile=Profile.static((64, 64)))
        print("built" if e.built else "loaded", e.sidecar["engine_sha256"])
    """)
    path = engine_path(tmp_path, engine_fields(BUNDLED, precision="fp16", profile=SMALL))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FileLock(path.with_name(path.name + ".lock")):  # hold both back until both are ready,
        procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
        assert [p.stdout.readline() for p in procs] == ["ready\n"] * 2
    results = sorted(p.communicate(timeout=120)[0].split() for p in procs)  # then let them race
    assert [p.returncode for p in procs] == [0, 0]
    assert [r[0] for r in results] == ["built", "loaded"]
    assert results[0][1] == results[1][1]  # the loader got exactly the engine the builder wrote
    assert ensure_engine(BUNDLED, tmp_path, precision="fp16", profile=SMALL).built is False
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".engine", ".json", ".lock"]


def test_full_disk_while_writing_leaves_the_previous_file(tmp_path):
    target = tmp_path / "model.engine"
    atomic_write_bytes(target, b"previous engine")
    script = textwrap.dedent(f"""
        import resource, signal
        from vs_dvd.trt_build.files import atomic_write_bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # get EFBIG like a full disk, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            atomic_write_bytes({str(target)!r}, bytes(1 << 20))
        except OSError as e:
            print("failed", e.errno)
    """)
    out = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("failed")
    assert target.read_bytes() == b"previous engine"
    assert [p.name for p in tmp_path.iterdir()] == ["model.engine"]  # no temporary file left behind


# --- flavours -----------------------------------------------------------------------------------

def test_no_tensorrt_installed_names_both_install_routes():
    script = textwrap.dedent("""
        import sys
        sys.modules["tensorrt"] = sys.modules["tensorrt_rtx_bindings"] = None  # both fail to import
        from vs_dvd.trt_build.flavour import FlavourError, load
        try:
            load()
        except FlavourError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout
    assert "pip install tensorrt --extra-index-url https://pypi.nvidia.com" in out
    assert "pip install tensorrt-rtx-cu13-libs tensorrt-rtx-cu13-bindings" in out


def test_unknown_flavour_name_is_refused():
    with pytest.raises(FlavourError, match="'tensorrt-llm' is not one of"):
        load("tensorrt-llm")


@RTX_ONLY
def test_rtx_refuses_a_hopper_gpu_and_points_to_tensorrt():
    with pytest.raises(FlavourError, match=r"9\.0 \(NVIDIA H100\).*pip install tensorrt"):
        load().targets({"name": "NVIDIA H100", "compute_capability": "9.0"}, None)


# --- --check ------------------------------------------------------------------------------------

def test_check_frames_are_five_centre_crops_of_the_video(tmp_path):
    av = pytest.importorskip("av")  # here: the lent GPU machine has no PyAV (bench/device.sh runs this module there)

    clip = write_clip(tmp_path / "clip.mkv", size=(72, 80), frames=6)
    with av.open(str(clip)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][:5]
    x = read_frames(clip, SMALL)
    assert x.shape == (1, 15, 64, 64) and x.dtype == np.float32
    expected = np.concatenate([f[4:68, 8:72].transpose(2, 0, 1) for f in decoded]) / 255
    assert np.allclose(x[0], expected)
    assert not np.array_equal(x[0, :3], x[0, 12:])  # five different frames, oldest first


def test_check_repeats_a_still_image_five_times(tmp_path):
    image = tmp_path / "still.png"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64", "-frames:v", "1", str(image)],
                   check=True)
    x = read_frames(image, SMALL)
    assert all(np.array_equal(x[0, :3], x[0, 3 * i:3 * i + 3]) for i in range(5))


def test_check_refuses_frames_smaller_than_the_engine_accepts(tmp_path):
    clip = write_clip(tmp_path / "small.mkv", size=(48, 80))
    with pytest.raises(ValueError, match=r"48x80, smaller than the engine's smallest input 64x64.*--min-shape"):
        read_frames(clip, SMALL)


@pytest.mark.parametrize("precision, target_db", [("fp16", 50), ("bf16", 40)])
def test_check_measures_the_lowered_graph_and_says_why_the_engine_was_not_run(tmp_path, random_onnx, precision,
                                                                             target_db):
    engine = tmp_path / "w4.engine"
    build_engine(random_onnx, engine, precision=precision, profile=SMALL)
    graph, on_gpu = check_engine(random_onnx, engine, write_clip(tmp_path / "clip.mkv"))
    assert target_db <= graph.db < 120 and graph.passed
    if on_gpu.db is None:
        assert "CUDA" in on_gpu.skipped or "PyTorch" in on_gpu.skipped
        assert not on_gpu.passed and "not measured" in str(on_gpu)
    else:
        assert on_gpu.db >= target_db


def test_a_measurement_passes_only_when_taken_and_on_target():
    assert Measurement("x", 50.0, db=50.0).passed
    assert not Measurement("x", 50.0, db=49.9).passed and "BELOW TARGET" in str(Measurement("x", 50.0, db=49.9))
    assert not Measurement("x", 50.0, skipped="no GPU").passed


# --- the CLI ------------------------------------------------------------------------------------

def test_cli_builds_an_engine_and_its_sidecar_then_checks_it(tmp_path, random_onnx):
    clip = write_clip(tmp_path / "clip.mkv")
    done = subprocess.run([sys.executable, "-m", "vs_dvd.trt_build", str(random_onnx), "-o", str(tmp_path / "w4.engine"),
                           "--opt-shape", "64x64", "--check", str(clip)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert done.returncode == (0 if engine_unrunnable() is None else 3), done.stderr
    sidecar = json.loads((tmp_path / "w4.engine.json").read_text())
    assert sidecar["precision"] == "fp16" and sidecar["profile"]["opt"] == [64, 64]
    assert (tmp_path / "w4.engine").stat().st_size == sidecar["engine_bytes"]
    assert "fp16 graph emulated on ONNX Runtime:" in done.stdout and "dB (target 50 dB) ok" in done.stdout


def test_cli_writes_next_to_the_model_by_default(tmp_path, random_onnx):
    model = tmp_path / "copy.onnx"
    model.write_bytes(random_onnx.read_bytes())
    assert main([str(model), "--fp32", "--opt-shape", "64x64"]) == 0
    assert json.loads((tmp_path / "copy.engine.json").read_text())["precision"] == "fp32"


@pytest.mark.parametrize("args, message", [
    (["--opt-shape", "100x100"], "use 104x104"),
    (["--opt-shape", "wide"], "expected HEIGHTxWIDTH"),
    (["--min-shape", "128x128", "--opt-shape", "64x64"], "min <= opt <= max"),
    (["--fp16", "--fp32"], "not allowed with argument"),
    (["--flavour", "tensorrt-llm"], "invalid choice"),
    (["--compute-capability", "ampere"], "compute capabilities like 8.6"),
    (["--workspace", "0"], "positive number of MiB"),
    (["--check", "missing.mp4"], "missing.mp4: no such file"),
])
def test_cli_rejects_bad_arguments_with_exit_status_2(random_onnx, capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        main([str(random_onnx), *args])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_rejects_a_missing_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main([str(tmp_path / "none.onnx")])
    assert exit.value.code == 2 and "none.onnx: no such file" in capsys.readouterr().err


def test_cli_build_failure_exits_1_with_the_reason(tmp_path, capsys):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    assert main([str(junk), "--opt-shape", "64x64"]) == 1
    assert "error: " in capsys.readouterr().err and not (tmp_path / "junk.engine").exists()


# --- on a GPU -----------------------------------------------------------------------------------

@requires_engine_gpu()
@pytest.mark.parametrize("precision, target_db", [("fp16", 50), ("fp32", 60)])
def test_engine_matches_onnx_runtime_on_the_gpu(tmp_path, random_onnx, precision, target_db):
    from vs_dvd.trt_build.check import run_engine

    engine = tmp_path / f"w4-{precision}.engine"
    build_engine(random_onnx, engine, precision=precision, profile=Profile((64, 64), (64, 64), (128, 128)))
    for size in ((64, 64), (128, 96)):
        x = frames(size)
        out = run_engine(engine.read_bytes(), x, device=0, flavour=load())
        assert out.shape == (1, 3, *size) and out.dtype == np.float32
        assert psnr(out, run_onnx(onnx.load(random_onnx), x)) >= target_db


def test_bf16_weights_round_to_nearest_even_and_stay_nan():
    from vs_dvd.trt_build.precision import _bf16_tensor

    values = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.0, np.nan], np.float32)  # two ties, an exact value, NaN
    rounded = numpy_helper.to_array(_bf16_tensor(values, "w")).astype(np.float32)
    assert rounded[:3].tolist() == [1.0, 1 + 2 ** -6, -2.0] and np.isnan(rounded[3])
