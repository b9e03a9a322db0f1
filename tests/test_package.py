"""What a user installs: the sdist builds a wheel PyPI accepts, that wheel installs into a new environment
with no compiler on PATH and renders through vspipe, and vs-mlrt's plugins beside it work in both directions."""
from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TAG = "py3-none-manylinux_2_28_x86_64"  # what vapoursynth-bestsource and vs-mlrt's wheels carry
MLRT = ["vapoursynth-mlrt-ort", "vapoursynth-mlrt-ov", "vapoursynth-mlrt-ncnn"]
pytestmark = pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64",
                                reason="the wheel's tag is checked for x86-64 Linux")


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The wheel alone in a new environment: its python and environment variables."""
    return new_venv(tmp_path_factory.mktemp("installed") / "venv", wheel)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from the sdist (so the sdist holds everything a build needs)."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "-o", out, ROOT)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, next(out.glob("vs_dvd-*.tar.gz")))
    return next(out.glob("vs_dvd-*.whl"))


def new_venv(folder: Path, *packages) -> tuple[Path, dict[str, str]]:
    """A new environment with ``packages`` installed by pip with only the environment's bin on PATH (no
    compiler), and ``vapoursynth config`` run; returns its python and the environment variables to use."""
    run(sys.executable, "-m", "venv", folder)
    env = {"PATH": str(folder / "bin"), "HOME": os.environ["HOME"], "XDG_CONFIG_HOME": str(folder / "config"),
           "XDG_CACHE_HOME": str(folder / "cache")}
    python = folder / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", *packages, env=env)
    run(folder / "bin" / "vapoursynth", "config", env=env)
    return python, env


def test_the_wheel_is_tagged_for_pypi_and_needs_only_old_glibc(wheel):
    assert wheel.name == f"vs_dvd-{version()}-{TAG}.whl"
    shown = run(sys.executable, "-m", "auditwheel", "show", wheel).stdout
    assert "requires no external shared libraries" in shown
    versions = [tuple(map(int, v)) for v in re.findall(r"GLIBC_(\d+)\.(\d+)", shown)]
    assert versions and max(versions) <= (2, 28)


def test_the_wheel_holds_the_plugin_the_model_and_no_generic_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"vs_dvd", "vapoursynth", f"vs_dvd-{version()}.dist-info"}
    for needed in ("vapoursynth/plugins/dvd/libdvd.so", "vapoursynth/plugins/dvd/manifest.vs",
                   "vs_dvd/data/dbn.onnx", "vs_dvd/data/dbn.json", "vs_dvd/data/dbn.int8.xml",
                   "vs_dvd/data/dbn.int8.bin", "vs_dvd/trt_build/__init__.py"):
        assert needed in names
    assert not any(n.endswith(".c") for n in names)


def test_the_metadata_names_licences_links_and_requirements(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = email.message_from_bytes(z.read(f"vs_dvd-{version()}.dist-info/METADATA"))
        licences = {n.rsplit("/", 1)[1] for n in z.namelist() if "/licenses/" in n}
    assert meta["License-Expression"] == "MIT" and licences == {"LICENSE", "LICENSE-MODEL"}
    assert meta["Requires-Python"] == ">=3.12" and meta.get_all("Project-URL") and meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("openvino>=") and "platform_machine" in r for r in requires)  # ov by default
    extras = set(meta.get_all("Provides-Extra"))
    assert extras == {"ov", "cuda", "trt", "align", "fleet"}  # the test and training tools are not published
    trt = [r for r in requires if r.startswith("tensorrt-rtx")]
    assert len({r.split("==")[1].split(";")[0].strip() for r in trt}) == 1  # libs and bindings: one version


def test_the_wheel_installs_without_a_compiler_and_renders_through_vspipe(installed, tmp_path):
    python, env = installed
    script = tmp_path / "deblur.vpy"
    script.write_text(textwrap.dedent("""
        import vapoursynth as vs
        core = vs.core
        bars = [core.std.BlankClip(format=vs.YUV420P8, width=8, height=48, length=6, color=[30 * i, 128, 128])
                for i in range(8)]
        clip = core.std.StackHorizontal(bars).std.SetFrameProps(_Matrix=1)
        core.dvd.Deblur(clip).set_output()
    """))
    out = subprocess.run([python.parent / "vspipe", "-c", "y4m", script, "-"], env=env,
                         capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    header = out.stdout.split(b"\n", 1)[0].split()
    assert header[0] == b"YUV4MPEG2" and b"W64" in header and b"H48" in header and out.stdout.count(b"FRAME\n") == 6
    assert "dvd.Deblur: backend='auto' chose 'ov'" in out.stderr.decode()  # OpenVINO comes by default
    info = run(python.parent / "vs-dvd", "info", env=env).stdout
    assert "auto" in info and "CPU: " in info


def test_an_installed_vs_dvd_neither_shadows_nor_is_shadowed_by_a_users_own_packages(installed, tmp_path):
    python, env = installed
    for name in ("training", "trt_build"):
        (tmp_path / "mine" / name).mkdir(parents=True)
        (tmp_path / "mine" / name / "__init__.py").write_text("MINE = True\n")
    check = ("import importlib.util, training, trt_build, vs_dvd\n"
             "assert training.MINE and trt_build.MINE and vs_dvd.deblur\n"
             "assert importlib.util.find_spec('vs_dvd.trt_build').origin.endswith('vs_dvd/trt_build/__init__.py')\n")
    run(python, "-c", check, cwd=tmp_path / "mine", env=env)  # the user's folder first on sys.path
    run(python, "-c", "import importlib.util as u; assert u.find_spec('training') is u.find_spec('trt_build') is None",
        cwd=tmp_path, env=env)  # and the wheel adds neither name


def identity_onnx(path: Path) -> Path:
    """A 1x1 convolution that returns its RGB input: a model every vs-mlrt runtime runs."""
    from onnx import TensorProto, helper, numpy_helper, save

    weight = numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1), "weight")
    graph = helper.make_graph([helper.make_node("Conv", ["input", "weight"], ["output"])], "identity",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 48, 64])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 48, 64])], [weight])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


def test_vs_mlrts_plugins_and_vs_dvd_work_in_one_script(wheel, tmp_path):
    """vs-mlrt's ort, ov and ncnn plugins beside vs-dvd: theirs keep working, ours too; only vs-dvd's ov
    cannot share the process with vs-mlrt's OpenVINO build, which auto skips with a warning and
    backend='ov' refuses with the fix."""
    python, env = new_venv(tmp_path / "venv", wheel, *MLRT)
    model = identity_onnx(tmp_path / "identity.onnx")
    script = textwrap.dedent(f"""
        import vapoursynth as vs
        core = vs.core
        warnings = []
        core.add_log_handler(lambda kind, text: warnings.append(text) if kind == vs.MESSAGE_TYPE_WARNING else None)
        rgb = core.std.StackHorizontal([core.std.BlankClip(format=vs.RGBS, width=8, height=48, length=5,
                                                           color=[i / 8, 0.5, 1 - i / 8]) for i in range(8)])
        import numpy as np
        def array(clip, n=2):
            f = clip.get_frame(n)
            return np.stack([np.asarray(f[p]) for p in range(f.format.num_planes)])
        for plugin in (core.ort, core.ov, core.ncnn):
            assert np.abs(array(plugin.Model(rgb, network_path={str(model)!r})) - array(rgb)).max() < 1e-3, plugin
        cpu = array(core.dvd.Deblur(rgb, backend="cpu"))
        assert np.abs(array(core.dvd.Deblur(rgb)) - cpu).max() == 0
        assert any("backend='auto' chose 'cpu'" in w and "vapoursynth-mlrt-ov" in w for w in warnings), warnings
        try:
            core.dvd.Deblur(rgb, backend="ov")
        except vs.Error as e:
            assert "refuses to share" in str(e) and "pip uninstall vapoursynth-mlrt-ov" in str(e), e
        else:
            raise AssertionError("backend='ov' ran beside vs-mlrt's OpenVINO")
        print("ok")
    """)
    assert run(python, "-c", script, env=env).stdout.strip().endswith("ok")
    first = textwrap.dedent(f"""
        import openvino  # before VapourSynth loads vs-mlrt's build: the fix the error names
        import vapoursynth as vs
        rgb = vs.core.std.BlankClip(format=vs.RGBS, width=64, height=48, length=5, color=[0.2, 0.5, 0.8])
        vs.core.dvd.Deblur(rgb, backend="ov").get_frame(2)
        vs.core.ov.Model(rgb, network_path={str(model)!r}).get_frame(2)
    """)
    run(python, "-c", first, env=env)


def version() -> str:
    return re.search(r'^__version__ = "(.+)"$', (ROOT / "vs_dvd" / "__init__.py").read_text(), re.M)[1]
