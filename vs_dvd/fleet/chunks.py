"""Where the render is cut into chunks: whole scenes packed up to ``--chunk-frames``, long scenes
split evenly, so that a chunk boundary falls on a scene cut wherever one is near.

Any boundary gives the same frames (the filter fetches its own neighbours from the whole clip);
boundaries at cuts put each chunk's first frame, which starts a keyframe in the user's codec,
where the picture changes anyway, and keep a scene on one worker.
"""
from __future__ import annotations

from collections.abc import Iterable

Range = tuple[int, int]  # first and last frame, inclusive, as vspipe -s / -e take them


def plan(frames: int, length: int, cuts: Iterable[int] = ()) -> list[Range]:
    """Chunks covering frames 0 .. frames-1, in order. ``cuts``: frames that start a new scene.

    Consecutive scenes share a chunk while it stays at most ``length`` frames; a scene longer
    than that is split into equal parts of at most ``length``.
    """
    if frames < 1 or length < 1:
        raise ValueError(f"frames ({frames}) and chunk length ({length}) must be at least 1")
    bounds = [0, *sorted({c for c in cuts if 0 < c < frames}), frames]
    chunks: list[list[int]] = []  # [start, stop) pairs
    open_chunk = False  # whether the last chunk may take the next scene
    for start, stop in zip(bounds, bounds[1:]):
        if stop - start > length:
            parts = -(-(stop - start) // length)
            edges = [start + (stop - start) * k // parts for k in range(parts + 1)]
            chunks += [[a, b] for a, b in zip(edges, edges[1:])]
            open_chunk = False
        elif open_chunk and stop - chunks[-1][0] <= length:
            chunks[-1][1] = stop
        else:
            chunks.append([start, stop])
            open_chunk = True
    return [(a, b - 1) for a, b in chunks]
