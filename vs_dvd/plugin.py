"""The Python half of the native ``dvd`` namespace (see shim.c): what ``core.dvd.*`` calls run."""
from __future__ import annotations

from collections.abc import Callable

import vapoursynth as vs

from . import deblur, version


def bind(name: str) -> None:
    """Called by the shim for each ``core.dvd.<name>`` call: hand it the implementation to forward to."""
    vs.core.dvd.Bind(func=IMPLEMENTATIONS[name])


def _reporting(call: Callable[[], dict]) -> dict:
    # A vs.Error travels back as a plain "error" string, which the shim raises without a traceback.
    try:
        return call()
    except vs.Error as e:
        return {"error": str(e)}


IMPLEMENTATIONS = {
    "Deblur": lambda **args: _reporting(lambda: {"clip": deblur(**args)}),
    "Version": lambda: _reporting(version),
}
