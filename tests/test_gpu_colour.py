"""The torch colour converter (run on the CPU device) converts every format as core.resize does, both ways."""
import numpy as np
import pytest
import torch
import vapoursynth as vs

from plugin_helpers import moving_clip
from vs_dvd import frames
from vs_dvd.gpu.colour import Converter, storage, unsupported

CPU = torch.device("cpu")
CASES = [(vs.YUV420P8, 64, 48, {}), (vs.YUV420P10, 62, 46, {}), (vs.YUV422P16, 62, 45, {}),
         (vs.YUV444PS, 61, 45, {}), (vs.RGB24, 61, 45, {}), (vs.RGBH, 61, 45, {}), (vs.GRAY16, 61, 45, {}),
         (vs.YUV420P8, 64, 48, {"_ChromaLocation": 2}), (vs.YUV420P8, 64, 48, {"_ChromaLocation": 5}),
         (vs.YUV410P8, 64, 48, {"_ChromaLocation": 1}), (vs.YUV420P8, 64, 48, {"_Range": 1})]


def planes(frame: vs.VideoFrame) -> list[torch.Tensor]:
    kind = np.int16 if storage(frame.format) == torch.int16 else None
    return [torch.from_numpy(np.array(np.asarray(frame[p]).view(kind) if kind else np.asarray(frame[p])))
            for p in range(frame.format.num_planes)]


@pytest.mark.parametrize("fmt, width, height, props", CASES)
def test_the_torch_converter_matches_core_resize_both_ways(fmt, width, height, props):
    clip = moving_clip(width, height, 2, fmt).std.SetFrameProps(**props) if props else moving_clip(width, height, 2, fmt)
    colour = frames.colour_of(clip, None)
    work = frames.to_work(clip, colour)
    converter = Converter(clip.format, colour, width, height, 8, CPU)
    reference = torch.from_numpy(frames.read(work.get_frame(1), 8))
    assert (converter.to_rgb(planes(clip.get_frame(1))) - reference).abs().max() <= 1e-5
    back = frames.from_work(work, clip, colour).get_frame(1)
    peak = 2 ** clip.format.bits_per_sample - 1 if clip.format.sample_type == vs.INTEGER else 1
    for p, plane in enumerate(converter.from_rgb(reference)):
        ours = (plane.int() & 0xFFFF if plane.dtype == torch.int16 else plane).double().numpy()
        assert np.abs(ours - np.asarray(back[p], np.float64)).max() <= max(1, peak / 255 if peak > 1 else 1e-3)


@pytest.mark.parametrize("matrix", [1, 4, 5, 6, 7, 8, 9])
def test_every_matrix_without_a_transfer_function_matches_core_resize(matrix):
    rgb = moving_clip(64, 48, 1)
    clip = rgb.resize.Bicubic(format=vs.YUV420P8, matrix=matrix, range=0)
    colour = frames.colour_of(clip, None)
    reference = torch.from_numpy(frames.read(frames.to_work(clip, colour).get_frame(0), 8))
    assert (Converter(clip.format, colour, 64, 48, 8, CPU).to_rgb(planes(clip.get_frame(0))) - reference).abs().max() <= 1e-5


def test_matrices_that_need_the_transfer_function_are_left_to_core_resize():
    clip = moving_clip(32, 24, 1, vs.YUV420P8)
    assert "transfer function" in unsupported(clip.format, frames.Colour(matrix=10, range=0, chromaloc=0))
