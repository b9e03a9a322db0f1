"""Which five source frames feed output frame n: n-2 ... n+2, never past the clip's ends or a scene cut.

Pure index logic, shared by the filter and its tests; knows nothing about VapourSynth frames
beyond the names of the scene-change properties.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from .basics import FRAMES, RADIUS, neighbours  # noqa: F401  (neighbours: the candidates for output n)


def window(n: int, count: int, cut_after: Callable[[int], bool]) -> list[int]:
    """The five source frames for output n, oldest first.

    Walking outwards from n, a step that would leave the clip or cross a cut (``cut_after(k)``:
    frames k and k+1 belong to different scenes) is not taken, so the nearest frame on n's side
    is repeated instead.
    """
    frames = [n] * FRAMES
    left = right = n
    for d in range(1, RADIUS + 1):
        if left > 0 and not cut_after(left - 1):
            left -= 1
        if right < count - 1 and not cut_after(right):
            right += 1
        frames[RADIUS - d], frames[RADIUS + d] = left, right
    return frames


def is_cut(before: Mapping, after: Mapping) -> bool:
    """Whether consecutive frames with these properties straddle a scene change."""
    return bool(before.get("_SceneChangeNext", 0)) or bool(after.get("_SceneChangePrev", 0))
