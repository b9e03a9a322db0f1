"""vs_dvd.fleet: a script rendered in chunks by Ray workers equals one vspipe render, survives a
killed worker or driver, redoes damaged chunks and stops, naming the chunk, after three failures.

One local Ray cluster (2 CPUs) serves the module; each render is a width-4 DBN on a 64x48,
24-frame clip, cut into 3 chunks of 8 frames.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from demo.vspipe import VSPIPE, environment  # noqa: E402
from plugin_helpers import TESTS  # noqa: E402
from vs_dvd import cli  # noqa: E402
from vs_dvd.fleet import chunks, manifest, probe  # noqa: E402
from vs_dvd.fleet import render as driver  # noqa: E402

ROOT = TESTS.parent
FRAMES, CHUNK = 24, 8
CLIP = f"""import os, signal, sys
sys.path.insert(0, {str(TESTS)!r})
import vapoursynth as vs
from plugin_helpers import moving_clip
src = moving_clip(64, 48, {FRAMES})
"""
DEBLUR = "clip = vs.core.dvd.Deblur(src, model={model!r}, backend='cpu').resize.Bicubic(format=vs.YUV444P8, matrix=1)\n"
ONCE = """def hook(n, f):
    if n == {frame}:
        try:
            os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return f
        {action}
    return f
clip = clip.std.ModifyFrame(clip, hook)
"""
ALWAYS = """def hook(n, f):
    if n == {frame}:
        with open({marker!r}, "a") as log:
            log.write("attempt\\n")
        raise vs.Error("deliberate failure at frame {frame}")
    return f
clip = clip.std.ModifyFrame(clip, hook)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray instance whose workers run this Python's vspipe from a fresh clone."""
    saved = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = environment(tmp_path_factory.mktemp("vsconfig"))["XDG_CONFIG_HOME"]
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    if saved is None:
        del os.environ["XDG_CONFIG_HOME"]
    else:
        os.environ["XDG_CONFIG_HOME"] = saved


def script(path: Path, model: Path, extra: str = "", scenes: str = "") -> Path:
    path.write_text(CLIP + scenes + DEBLUR.format(model=str(model)) + extra + "clip.set_output()\n")
    return path


def decoded(video_or_script: Path) -> list[str]:
    """MD5 of every decoded frame: of a video file, or of a script's single vspipe render."""
    if video_or_script.suffix == ".vpy":
        pipe = subprocess.run([str(VSPIPE), "-c", "mkv", "-o", "0", str(video_or_script), "-"],
                              capture_output=True, check=True).stdout
        args, stdin = ["-f", "matroska", "-i", "-"], pipe
    else:
        args, stdin = ["-i", str(video_or_script)], None
    lines = subprocess.run(["ffmpeg", "-v", "error", *args, "-f", "framemd5", "-"], input=stdin,
                           capture_output=True, check=True).stdout.decode().splitlines()
    return [line.split(",")[-1].strip() for line in lines if not line.startswith("#")]


def render(vpy: Path, out: Path, *args: str) -> int:
    return cli.main(["render", str(vpy), str(out), "--chunk-frames", str(CHUNK), *args])


def identities(folder: Path) -> dict[str, tuple[int, int]]:
    """Each chunk file's inode and modification time: unchanged unless the chunk was rendered again."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.mkv"))}


# -- boundaries ---------------------------------------------------------------------------------

def test_without_scene_changes_chunks_are_equal_and_at_most_chunk_frames_long():
    assert chunks.plan(24, 8) == [(0, 7), (8, 15), (16, 23)]
    assert chunks.plan(20, 8) == [(0, 5), (6, 12), (13, 19)]


def test_chunks_pack_whole_scenes_and_split_long_ones_evenly():
    # scenes 0-4, 5-7, 8-20 (13 frames), 21-23
    assert chunks.plan(24, 8, [5, 8, 21]) == [(0, 7), (8, 13), (14, 20), (21, 23)]


def test_every_frame_is_in_exactly_one_chunk():
    for cuts in ([], [1], [3, 4, 5, 30], list(range(1, 40, 3))):
        ranges = chunks.plan(40, 7, cuts)
        assert [n for a, b in ranges for n in range(a, b + 1)] == list(range(40))
        assert all(b - a + 1 <= 7 for a, b in ranges)


def test_the_probe_reads_scene_changes_from_output_1(tmp_path, model_path):
    vpy = script(tmp_path / "s.vpy", model_path, scenes=MARKED)
    assert probe.probe(str(vpy), {}) == probe.Probe(FRAMES, (5, 13))


def test_the_probe_without_output_1_finds_no_scenes(tmp_path, model_path):
    assert probe.probe(str(script(tmp_path / "s.vpy", model_path)), {}) == probe.Probe(FRAMES, None)


def test_a_float_output_is_refused_with_the_fix(tmp_path):
    vpy = tmp_path / "s.vpy"
    vpy.write_text(CLIP + "src.set_output()\n")  # RGBS
    with pytest.raises(probe.ProbeError, match="RGBS, a float format.*RGB48"):
        probe.probe(str(vpy), {})


MARKED = """def mark(n, f):
    out = f.copy()
    out.props["_SceneChangePrev"] = int(n in (5, 13))
    return out
src = src.std.ModifyFrame(src, mark)
src.set_output(1)
"""


# -- renders ------------------------------------------------------------------------------------

def test_a_render_on_ray_is_frame_for_frame_one_vspipe_render(cluster, tmp_path, model_path, capsys):
    vpy = script(tmp_path / "s.vpy", model_path)
    assert render(vpy, tmp_path / "out.mkv") == 0
    assert decoded(tmp_path / "out.mkv") == decoded(vpy)
    assert len(set(decoded(vpy))) == FRAMES  # every frame differs, so order and gaps would show
    err = capsys.readouterr().err
    assert "24 frames in 3 chunks of up to 8 frames, fixed length" in err
    assert "no audio (pass --audio-from SOURCE" in err
    assert not (tmp_path / "out.mkv.chunks").exists()  # removed once OUT is written


def test_chunks_end_at_the_scene_changes_and_the_render_is_unchanged(cluster, tmp_path, model_path):
    vpy = script(tmp_path / "s.vpy", model_path, scenes=MARKED)
    assert render(vpy, tmp_path / "out.mkv", "--keep-chunks") == 0
    record = json.loads((tmp_path / "out.mkv.chunks" / manifest.NAME).read_text())
    assert record["ranges"] == [[0, 4], [5, 12], [13, 17], [18, 23]]
    assert decoded(tmp_path / "out.mkv") == decoded(vpy)


def test_a_worker_killed_mid_chunk_is_retried_and_the_output_is_unchanged(cluster, tmp_path, model_path):
    marker = tmp_path / "killed"
    kill = ONCE.format(frame=10, marker=str(marker), action="os.kill(os.getppid(), signal.SIGKILL)")
    vpy = script(tmp_path / "kill.vpy", model_path, kill)
    assert render(vpy, tmp_path / "out.mkv") == 0
    assert marker.exists()  # vspipe's parent, the Ray worker rendering chunk 1, was SIGKILLed
    assert decoded(tmp_path / "out.mkv") == decoded(script(tmp_path / "plain.vpy", model_path))


def test_an_interrupted_render_resumed_renders_only_the_missing_chunks(cluster, tmp_path, model_path, capsys):
    pidfile, marker = tmp_path / "driver.pid", tmp_path / "killed"
    kill = ONCE.format(frame=17, marker=str(marker),
                       action=f"os.kill(int(open({str(pidfile)!r}).read()), signal.SIGKILL)")
    vpy = script(tmp_path / "s.vpy", model_path, kill)
    out = tmp_path / "out.mkv"
    # The driver writes its pid before it starts, one chunk at a time: killed during chunk 2.
    driver = subprocess.run(
        ["sh", "-c", f'echo $$ > "$0"; exec "$1" -m vs_dvd.fleet "$2" "$3" --chunk-frames {CHUNK} '
         f"--workers 1 --ray {cluster}", str(pidfile), sys.executable, str(vpy), str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, capture_output=True)
    assert driver.returncode == -signal.SIGKILL and not out.exists()
    folder = out.with_name("out.mkv.chunks")
    before = identities(folder)
    assert len(before) == 2  # chunks 0 and 1 finished and recorded
    capsys.readouterr()
    assert render(vpy, out, "--keep-chunks") == 0
    err = capsys.readouterr().err
    assert "resuming" in err and "2 of 3 chunks recorded" in err and "chunks to render: 1" in err
    after = identities(folder)
    assert {name: after[name] for name in before} == before and len(after) == 3
    assert decoded(out) == decoded(script(tmp_path / "plain.vpy", model_path))


def test_a_corrupt_chunk_is_rendered_again(cluster, tmp_path, model_path, capsys):
    vpy = script(tmp_path / "s.vpy", model_path)
    out = tmp_path / "out.mkv"
    assert render(vpy, out, "--keep-chunks") == 0
    folder = out.with_name("out.mkv.chunks")
    damaged = sorted(folder.glob("*.mkv"))[1]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    before = identities(folder)
    capsys.readouterr()
    assert render(vpy, out, "--keep-chunks", "-y") == 0
    assert "chunk 1 (frames 8-15): its file's SHA-256 differs" in capsys.readouterr().err
    after = identities(folder)
    assert [name for name in before if after[name] != before[name]] == [damaged.name]
    assert decoded(out) == decoded(vpy)


def test_a_chunk_failing_three_times_stops_the_render_naming_it(cluster, tmp_path, model_path, capsys):
    attempts = tmp_path / "attempts"
    vpy = script(tmp_path / "s.vpy", model_path, ALWAYS.format(frame=10, marker=str(attempts)))
    out = tmp_path / "out.mkv"
    assert render(vpy, out) == 1
    err = capsys.readouterr().err
    assert "chunk 1 (frames 8-15) failed 3 times" in err
    assert "deliberate failure at frame 10" in err  # vspipe's stderr, quoted
    assert attempts.read_text().count("attempt") == 3 and not out.exists()
    record = manifest.Manifest.load(out.with_name("out.mkv.chunks"))
    assert 1 not in record.done and 0 in record.done


def test_audio_and_metadata_come_from_the_source_named(cluster, tmp_path, model_path):
    source = tmp_path / "source.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-metadata", "title=Holiday", "-c:a", "flac", str(source)], check=True)
    out = tmp_path / "out.mkv"
    assert render(script(tmp_path / "s.vpy", model_path), out, "--audio-from", str(source)) == 0
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                                      str(out)], capture_output=True, check=True).stdout)
    assert [s["codec_name"] for s in info["streams"]] == ["ffv1", "flac"]
    assert info["format"]["tags"]["title"] == "Holiday"


def test_chunks_in_the_users_codec_each_start_on_a_keyframe(cluster, tmp_path, model_path):
    out = tmp_path / "out.mkv"
    assert render(script(tmp_path / "s.vpy", model_path), out,
                  "--encode", "-c:v libx264 -preset ultrafast -crf 30 -pix_fmt yuv420p") == 0
    frames = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_frames", "-of", "json", str(out)],
                                       capture_output=True, check=True).stdout)["frames"]
    assert len(frames) == FRAMES
    assert {0, 8, 16} <= {i for i, f in enumerate(frames) if f["key_frame"] == 1}


def test_a_rerun_with_other_settings_is_refused_unless_restart(tmp_path, model_path):
    vpy = script(tmp_path / "s.vpy", model_path)
    out = tmp_path / "out.mkv"
    folder = manifest.folder_for(out)
    folder.mkdir()
    old = manifest.settings(vpy, {"strength": "1"}, ["-c:v", "ffv1"], CHUNK)
    manifest.Manifest(folder, old, FRAMES, chunks.plan(FRAMES, CHUNK)).save()
    with pytest.raises(driver.RenderError, match=r"changed: args.*--restart"):
        driver.render(driver.Options(vpy, out, CHUNK, {"strength": "2"}, ["-c:v", "ffv1"]), say=print)


def test_importing_the_plugin_or_the_fleet_cli_does_not_import_ray():
    code = "import sys, vs_dvd, vs_dvd.fleet; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
