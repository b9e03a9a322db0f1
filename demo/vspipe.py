"""Running this Python's vspipe from a fresh install, with no ``vapoursynth config`` by the user.

vspipe embeds the Python named in VapourSynth's config file. ``python -m vapoursynth config``
writes one for this interpreter; written into a private XDG_CONFIG_HOME, it leaves the user's
own configuration alone.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import vapoursynth as vs

VSPIPE = Path(vs.__file__).with_name("vspipe")  # the binary that <venv>/bin/vspipe runs


def environment(config_home: Path) -> dict[str, str]:
    """``os.environ`` with XDG_CONFIG_HOME at ``config_home``, where a config naming this Python is written."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    subprocess.run([sys.executable, "-m", "vapoursynth", "config"], env=env, check=True,
                   capture_output=True)
    return env
