"""Reliability, the TensorRT engine cache (issue #6, item 2), with real TensorRT-RTX builds on the
CPU: a damaged cache entry is rebuilt and never loaded, an unusable cache folder falls back to a
private temporary one with a warning, and two vspipe processes that need the same engine at once
both succeed and leave one valid engine. The vspipe scripts call the engine step of
``backend="trt"`` themselves: without a GPU, ``core.dvd.Deblur(backend="trt")`` stops before it.

It deletes nothing it did not create: a damaged entry must lie in the test's own cache folder, and
the fallback folder is put under tmp_path through TMPDIR.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from filelock import FileLock

from demo.vspipe import VSPIPE, environment
from vs_dvd.trt_build import cache_key, engine_fields, sidecar_path
from vs_dvd.trt_build.cache import engine_path
from trt_helpers import BUNDLED
from vs_dvd import model as models
from vs_dvd.backends import trt

SHAPE = (64, 64)

# What backend="trt" does before it needs a GPU: find (or build) the engine in the user's cache.
ENGINE_SCRIPT = textwrap.dedent("""
    import os
    import vapoursynth as vs
    from vs_dvd import model as models
    from vs_dvd.backends import trt

    info = models.load({model!r})
    os.write(2, b"ready\\n")
    engine = trt.engine_for(info, fp16=True, shape={shape!r}, device_id=0)
    done = "built" if engine.built else "loaded"
    os.write(2, f"RESULT {{done}} {{engine.sidecar['engine_sha256']}} {{engine.path}}\\n".encode())
    vs.core.std.BlankClip(format=vs.GRAY8, width=8, height=8, length=1).set_output()
""")


@pytest.fixture(scope="module")
def vspipe_env(tmp_path_factory) -> dict[str, str]:
    return environment(tmp_path_factory.mktemp("vspipe") / "config")


def start_vspipe(env: dict[str, str], script: Path, preexec_fn=None) -> subprocess.Popen:
    return subprocess.Popen([str(VSPIPE), str(script), "-"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)


def result_of(stderr: str) -> list[str]:
    """["built" | "loaded", engine sha256, engine path] from the script's RESULT line."""
    lines = [line.split()[1:] for line in stderr.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_valid(path: Path) -> None:
    """An engine whose bytes match its sidecar."""
    sidecar = json.loads(sidecar_path(path).read_text())
    data = path.read_bytes()
    assert len(data) == sidecar["engine_bytes"] and hashlib.sha256(data).hexdigest() == sidecar["engine_sha256"]


DAMAGE = {
    "sidecar is JSON null": lambda engine: sidecar_path(engine).write_text("null"),
    "sidecar is a JSON list": lambda engine: sidecar_path(engine).write_text("[]"),
    "sidecar is empty": lambda engine: sidecar_path(engine).write_bytes(b""),
    "sidecar is not text": lambda engine: sidecar_path(engine).write_bytes(b"\xff\xfe\x00garbage"),
    "sidecar is missing": lambda engine: sidecar_path(engine).unlink(),
    "engine is empty": lambda engine: engine.write_bytes(b""),
    "engine is missing": lambda engine: engine.unlink(),
    "engine has one byte changed": lambda engine: engine.write_bytes(
        (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:])(engine.read_bytes())),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning_never_loaded(damage, cache_home, vs_warnings):
    bundled = models.load()
    first = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0)
    assert first.path.is_relative_to(cache_home)  # damage only what this test made
    DAMAGE[damage](first.path)
    vs_warnings.clear()
    again = trt.engine_for(bundled, fp16=True, shape=SHAPE, device_id=0)
    assert again.built and again.path == first.path
    assert cache_key(again.sidecar) == cache_key(first.sidecar)  # the same engine (its bytes may differ)
    assert_valid(again.path)
    assert any("building" in m and str(first.path) in m for m in vs_warnings)


def without_root_privileges() -> None:
    """In the child, before exec: drop root's licence to ignore file permissions (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH), so a read-only folder is read-only for it too, as for any other user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("where", ["read-only", "missing, in a read-only folder"])
def test_an_unwritable_cache_folder_falls_back_to_a_private_one_with_a_warning(where, tmp_path, vspipe_env):
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    (home / "vs-dvd").mkdir(parents=True)
    temporary.mkdir()
    cache = home / "vs-dvd" / "engines"
    if where == "read-only":
        cache.mkdir()
        cache.chmod(0o555)
    else:
        (home / "vs-dvd").chmod(0o555)
    script = tmp_path / "engine.vpy"
    script.write_text(ENGINE_SCRIPT.format(model=str(BUNDLED), shape=SHAPE))
    env = {**vspipe_env, "XDG_CACHE_HOME": str(home), "TMPDIR": str(temporary)}
    proc = start_vspipe(env, script, without_root_privileges if os.geteuid() == 0 else None)
    stderr = proc.communicate(timeout=300)[1]
    (home / "vs-dvd").chmod(0o755)
    if cache.exists():
        cache.chmod(0o755)
    assert proc.returncode == 0, stderr
    done, _, built = result_of(stderr)
    built = Path(built)
    assert done == "built"
    assert f"Warning: dvd.Deblur: the TensorRT engine cache {cache} cannot be written" in stderr
    assert built.parent.parent == temporary and built.parent.name.startswith("vs-dvd-engines-")
    assert oct(built.parent.stat().st_mode & 0o777) == oct(0o700)  # engines are code-like: private
    assert_valid(built)
    assert not cache.exists() or not any(cache.iterdir())


def test_two_vspipe_processes_needing_the_same_engine_both_succeed_and_leave_one(tmp_path, vspipe_env, model_path):
    home = tmp_path / "home"
    folder = home / "vs-dvd" / "engines"
    folder.mkdir(parents=True)
    script = tmp_path / "engine.vpy"
    script.write_text(ENGINE_SCRIPT.format(model=str(model_path), shape=SHAPE))
    env = {**vspipe_env, "XDG_CACHE_HOME": str(home)}
    path = engine_path(folder, engine_fields(model_path, precision="fp16", profile=trt.profile_for(SHAPE)))
    with FileLock(path.with_name(path.name + ".lock")):  # hold both back until both are ready,
        procs = [start_vspipe(env, script) for _ in range(2)]
        assert [p.stderr.readline() for p in procs] == ["ready\n"] * 2
    stderr = [p.communicate(timeout=300)[1] for p in procs]  # then let them race
    assert [p.returncode for p in procs] == [0, 0], stderr
    results = sorted(result_of(err) for err in stderr)
    assert [r[0] for r in results] == ["built", "loaded"]
    assert results[0][1:] == results[1][1:] == [json.loads(sidecar_path(path).read_text())["engine_sha256"],
                                                 str(path)]
    assert sum("Warning: dvd.Deblur: building" in err for err in stderr) == 1
    assert_valid(path)
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, sidecar_path(path).name,
                                                               path.name + ".lock"])
