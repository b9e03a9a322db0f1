"""The native ``dvd`` namespace: installed where VapourSynth autoloads it, and forwarding to vs_dvd
under vspipe and in plain Python, with the same output and clean errors."""
import inspect
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import vapoursynth as vs

import vs_dvd
from plugin_helpers import moving_clip, picker_onnx, planes

core = vs.core


def script(model: Path, body: str) -> str:
    return textwrap.dedent(f"""
        import vapoursynth as vs
        from plugin_helpers import moving_clip
        core = vs.core
        model = {str(model)!r}
    """) + textwrap.dedent(body)


def test_plugin_is_installed_in_vapoursynths_autoload_folder():
    folder = Path(vs.get_plugin_dir()) / "dvd"
    assert (folder / "manifest.vs").read_text().splitlines() == ["[VapourSynth Manifest V1]", "libdvd"]
    assert any(folder.glob("libdvd.*"))
    arguments = [a.split(":")[0] for a in core.dvd.Deblur.signature.split(";") if a]
    assert arguments == list(inspect.signature(vs_dvd.deblur).parameters)  # Deblur takes deblur()'s arguments


def test_core_dvd_deblur_is_vs_dvd_deblur(model_path):
    clip = moving_clip(32, 24, 4, vs.YUV420P8)
    via_plugin = core.dvd.Deblur(clip, model=str(model_path), backend="cpu", tilesize=[16, 16], overlap=4)
    direct = vs_dvd.deblur(clip, model=model_path, backend="cpu", tilesize=16, overlap=[4, 4])
    for n in range(4):
        np.testing.assert_array_equal(planes(via_plugin.get_frame(n)), planes(direct.get_frame(n)))


def test_core_dvd_works_in_a_python_script_that_never_imports_vs_dvd(model_path):
    code = script(model_path, """
        import sys
        out = core.dvd.Deblur(moving_clip(32, 24, 3), model=model, backend="cpu")
        out.get_frame(2)
        print(out.num_frames, out.format.name, "vs_dvd" in sys.modules)
    """)
    tests = Path(__file__).parent
    result = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tests)!r})\n" + code],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "RGBS", "True"]  # imported by the plugin itself


def test_version_through_the_plugin():
    assert core.dvd.Version() == vs_dvd.version()


def test_errors_reach_the_caller_as_plain_messages():
    clip = moving_clip(32, 24, 2)
    with pytest.raises(vs.Error) as error:
        core.dvd.Deblur(clip, backend="gpu")
    assert str(error.value) == ("dvd.Deblur: backend='gpu' is unknown; use one of 'auto', 'trt', "
                                "'cuda', 'ov', 'cpu'")
    with pytest.raises(vs.Error, match="model /nowhere.onnx does not exist"):
        core.dvd.Deblur(clip, model="/nowhere.onnx")


def test_audio_is_refused():
    with pytest.raises(vs.Error, match="argument clip was passed an unsupported type .*AudioNode"):
        core.dvd.Deblur(core.std.BlankAudio())


def test_a_missing_python_package_is_an_error_that_says_what_to_install():
    code = textwrap.dedent("""
        import sys
        sys.modules["vs_dvd"] = None  # as if the package were not installed
        import vapoursynth as vs
        try:
            vs.core.dvd.Deblur(vs.core.std.BlankClip(format=vs.RGBS))
        except vs.Error as e:
            print(e)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "cannot import the Python package vs_dvd" in result.stdout
    assert "pip install" in result.stdout


def test_a_model_that_aligns_without_opencv_says_what_to_install(tmp_path):
    model = picker_onnx(tmp_path / "aligned.onnx", align="dis-fast")
    code = textwrap.dedent(f"""
        import sys
        sys.modules["cv2"] = None  # as if OpenCV were not installed
        import vapoursynth as vs
        try:
            vs.core.dvd.Deblur(vs.core.std.BlankClip(format=vs.RGBS), model={str(model)!r})
        except vs.Error as e:
            print(e)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "by optical flow (dis-fast), which needs OpenCV: pip install 'vs-dvd[align]'" in result.stdout


def test_vspipe_renders_yuv_that_ffmpeg_reads(vspipe, model_path):
    result = vspipe(script(model_path, """
        clip = moving_clip(62, 46, 7, vs.YUV420P8)
        core.dvd.Deblur(clip, model=model).set_output()
    """), "-c", "y4m")
    assert result.returncode == 0, result.stderr.decode()
    header = result.stdout.split(b"\n", 1)[0].split()
    assert header[0] == b"YUV4MPEG2" and {b"C420", b"W62", b"H46"} <= set(header)
    assert result.stdout.count(b"FRAME\n") == 7
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-f", "rawvideo", "-"],
                             input=result.stdout, capture_output=True, check=True)
    assert len(decoded.stdout) == 7 * 62 * 46 * 3 // 2


def test_vspipe_output_does_not_depend_on_concurrent_requests(vspipe, model_path):
    text = script(model_path, """
        clip = moving_clip(48, 40, 10)
        clip = clip[:5] + clip[5].std.SetFrameProps(_SceneChangePrev=1) + clip[6:]
        core.dvd.Deblur(clip, model=model, backend="cpu", tilesize=24, overlap=8).set_output()
    """)
    one, four = vspipe(text, "-r", "1"), vspipe(text, "-r", "4")
    assert one.returncode == four.returncode == 0, one.stderr.decode() + four.stderr.decode()
    assert len(one.stdout) == 10 * 3 * 48 * 40 * 4
    assert one.stdout == four.stdout
    # ... and equals the same script in this Python process (vspipe writes planes G, B, R)
    clip = moving_clip(48, 40, 10)
    clip = clip[:5] + clip[5].std.SetFrameProps(_SceneChangePrev=1) + clip[6:]
    out = core.dvd.Deblur(clip, model=str(model_path), backend="cpu", tilesize=24, overlap=8)
    piped = np.frombuffer(one.stdout, np.float32).reshape(10, 3, 40, 48)
    for n in (0, 5, 9):
        np.testing.assert_array_equal(piped[n][[2, 0, 1]], planes(out.get_frame(n)))


def test_vspipe_reports_a_bad_argument_at_script_evaluation(vspipe, model_path):
    result = vspipe(script(model_path, """
        core.dvd.Deblur(moving_clip(32, 24, 2), model=model, tilesize=20).set_output()
    """), "-c", "y4m")
    assert result.returncode != 0 and result.stdout == b""
    assert "tilesize=20 must be an int or [width, height]" in result.stderr.decode()
