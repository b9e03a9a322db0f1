"""The torch backends' frame path, on the CPU device: native planes in, the clip's format out, matching the
core.resize path of the cpu backend (scene cuts, odd sizes, tiles blended on the device)."""
import numpy as np
import pytest
import torch
import vapoursynth as vs

from plugin_helpers import moving_clip, planes
from test_pipeline import with_cuts
from vs_dvd import frames, model as models
from vs_dvd.backends import cpu, cuda
from vs_dvd.pipeline import deblurred
from vs_dvd.tiles import Tiling


def both(model_path, clip, tile=None, overlap=(0, 0)):
    info = models.load(model_path)
    tiling = Tiling.fit((-(-clip.height // 8) * 8, -(-clip.width // 8) * 8), tile, overlap)
    colour = frames.colour_of(clip, None)
    host = cpu.create(info, device_id=0, fp16=False, num_streams=1, num_threads=1, shape=tiling.tile)
    device = cuda.CudaBackend(cuda.load_dbn(info), torch.device("cpu"), fp16=False, num_streams=1)
    return deblurred(clip, colour, host, tiling, 8), deblurred(clip, colour, device, tiling, 8)


@pytest.mark.parametrize("fmt, width, height", [(vs.YUV420P8, 64, 48), (vs.YUV420P10, 62, 46), (vs.YUV422P16, 62, 45),
                                                (vs.YUV444PS, 61, 45), (vs.RGB24, 61, 45), (vs.RGBH, 61, 45),
                                                (vs.GRAY16, 61, 45)])
def test_the_device_path_matches_the_core_resize_path(model_path, fmt, width, height):
    clip = with_cuts(moving_clip(width, height, 10, fmt))
    today, new = both(model_path, clip)
    peak = 2 ** clip.format.bits_per_sample - 1 if clip.format.sample_type == vs.INTEGER else 1
    for n in (0, 3, 4, 7, 9):
        a, b = today.get_frame(n), new.get_frame(n)
        assert dict(a.props) == dict(b.props)
        assert np.abs(planes(a) - planes(b)).max() <= peak / 255


def test_tiles_are_blended_on_the_device_as_on_the_host(model_path):
    today, new = both(model_path, moving_clip(48, 40, 5, vs.YUV420P8), tile=(24, 24), overlap=(8, 8))
    assert np.abs(planes(today.get_frame(2)) - planes(new.get_frame(2))).max() <= 1


def test_a_matrix_the_converter_lacks_falls_back_to_core_resize_with_a_log_line(model_path, vs_warnings):
    rgb = moving_clip(64, 48, 3)
    clip = rgb.std.SetFrameProps(_Transfer=14, _Primaries=9).resize.Bicubic(format=vs.YUV444P16, matrix=10, range=0)
    today, new = both(model_path, clip)
    assert sum("core.resize on the host" in m for m in vs_warnings) == 1
    assert np.abs(planes(today.get_frame(1)) - planes(new.get_frame(1))).max() <= 65535 / 255
