"""Fixtures for the vs_dvd tests: tiny real models and a vspipe that works from a fresh clone."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import vapoursynth as vs

from demo.vspipe import VSPIPE, environment
from plugin_helpers import TESTS, dbn_onnx


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """A width-4 DBN with random weights: cheap to run, output far from its input."""
    return dbn_onnx(tmp_path_factory.mktemp("model") / "random.onnx")


@pytest.fixture(scope="session")
def identity_path(tmp_path_factory) -> Path:
    """A width-4 untrained residual DBN: output == centre frame, for format round trips."""
    return dbn_onnx(tmp_path_factory.mktemp("model") / "identity.onnx", trained=False)


@pytest.fixture(scope="session")
def vspipe(tmp_path_factory) -> Callable[..., subprocess.CompletedProcess]:
    """``vspipe(script_text, *args)`` runs vspipe on a .vpy with that text, output to stdout.

    vspipe embeds the Python named in VapourSynth's config file; ``demo.vspipe.environment`` writes
    one for this interpreter into a temporary XDG_CONFIG_HOME, so no user setup is needed.
    """
    folder = tmp_path_factory.mktemp("vspipe")
    env = environment(folder / "config")
    scripts = iter(range(10**6))

    def run(script: str, *args: str) -> subprocess.CompletedProcess:
        path = folder / f"script{next(scripts)}.vpy"
        path.write_text(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n" + script)
        return subprocess.run([str(VSPIPE), *args, str(path), "-"], env=env, capture_output=True,
                              timeout=300)

    return run


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """A private ``$XDG_CACHE_HOME``, so engine caches never touch the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _logged(kind: int):
    messages: list[str] = []
    handle = vs.core.add_log_handler(lambda k, text: messages.append(text) if k == kind else None)
    yield messages
    vs.core.remove_log_handler(handle)


@pytest.fixture
def vs_warnings():
    """The VapourSynth warnings logged while the test runs."""
    yield from _logged(vs.MESSAGE_TYPE_WARNING)


@pytest.fixture
def vs_infos():
    """The VapourSynth information messages logged while the test runs."""
    yield from _logged(vs.MESSAGE_TYPE_INFORMATION)
