"""One evaluation of the script before the render: how many frames, in a format ffmpeg can store,
and where the scenes change.

The scene changes are read from the script's output 1 when it sets one: the clip before
``core.dvd.Deblur`` (any source, after any scene-change filter), whose frames are cheap to fetch
and carry ``_SceneChangePrev``/``_SceneChangeNext``. Output 0's frames carry the same properties,
but fetching them would run the model.
"""
from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path

import vapoursynth as vs

from ..window import is_cut

SCENE_OUTPUT = 1


class ProbeError(RuntimeError):
    """The script cannot be rendered in chunks; the message says why and what to change."""


@dataclass(frozen=True)
class Probe:
    frames: int
    cuts: tuple[int, ...] | None  # frames that start a scene; None: the script sets no output 1


def probe(script: str, args: dict[str, str]) -> Probe:
    """Evaluate ``script`` as vspipe would (``args`` as globals) and describe its output 0."""
    vs.clear_outputs()
    try:
        runpy.run_path(script, init_globals=dict(args), run_name="__vapoursynth__")
        outputs = vs.get_outputs()
        if 0 not in outputs or not isinstance(outputs[0], vs.VideoOutputTuple):
            raise ProbeError(f"{script} sets no video output 0; end it with clip.set_output()")
        clip = outputs[0].clip
        fmt = clip.format
        if fmt is None or not clip.width or not clip.height:
            raise ProbeError(f"output 0 of {script} changes format or size from frame to frame; "
                             "end the script with a resize to one format and size")
        if fmt.sample_type == vs.FLOAT:
            raise ProbeError(f"output 0 of {script} is {fmt.name}, a float format that ffmpeg cannot "
                             "store; end the script with an integer format, e.g. "
                             "clip.resize.Bicubic(format=vs.YUV444P16) (or vs.RGB48)")
        scenes = outputs.get(SCENE_OUTPUT)
        if scenes is None:
            return Probe(clip.num_frames, None)
        if not isinstance(scenes, vs.VideoOutputTuple) or scenes.clip.num_frames != clip.num_frames:
            raise ProbeError(f"output {SCENE_OUTPUT} of {script}, the clip whose frame properties mark the "
                             f"scene changes, must be a video clip as long as output 0 ({clip.num_frames} "
                             "frames); set the source before Deblur as output 1, or no output 1")
        return Probe(clip.num_frames, tuple(_cuts(scenes.clip)))
    finally:
        vs.clear_outputs()


def _cuts(clip: vs.VideoNode) -> list[int]:
    """The frames of ``clip`` that start a new scene, one frame in memory at a time."""
    cuts, before = [], None
    for n, frame in enumerate(clip.frames(close=True)):
        props = dict(frame.props)
        if before is not None and is_cut(before, props):
            cuts.append(n)
        before = props
    return cuts
