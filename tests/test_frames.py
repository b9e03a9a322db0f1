"""VapourSynth frames <-> the model's arrays: every format goes to float RGB (GRAY stays one plane)
and back unchanged, with its properties; arrays are clipped to [0, 1] and padded by reflection."""
import numpy as np
import pytest
import vapoursynth as vs

from plugin_helpers import assert_same_picture, moving_clip, planes
from vs_dvd import frames

core = vs.core

ROUND_TRIPS = [(vs.YUV420P8, 64, 48), (vs.YUV420P8, 62, 46), (vs.YUV420P10, 64, 48), (vs.YUV444PS, 61, 45),
               (vs.RGB24, 61, 45), (vs.RGBS, 61, 45), (vs.GRAY16, 61, 45), (vs.GRAY8, 33, 17)]


@pytest.mark.parametrize("fmt, width, height", ROUND_TRIPS)
def test_every_format_goes_to_the_work_format_and_back_unchanged(fmt, width, height):
    clip = moving_clip(width, height, 2, fmt)
    colour = frames.colour_of(clip, None)
    work = frames.to_work(clip, colour)
    assert work.format.id == (vs.GRAYS if fmt in (vs.GRAY16, vs.GRAY8) else vs.RGBS)
    back = frames.from_work(work, clip, colour)
    frame, source = back.get_frame(1), clip.get_frame(1)
    assert dict(frame.props) == dict(source.props)
    assert_same_picture(frame, source)


def test_yuv_is_converted_with_the_frames_matrix_and_range():
    clip = moving_clip(32, 24, 1, vs.YUV444P10)
    assert frames.colour_of(clip, matrix=6) == frames.Colour(matrix=1, range=0, chromaloc=0)


def test_the_matrix_argument_stands_in_for_a_missing_matrix_only():
    clip = moving_clip(32, 24, 1, vs.YUV444P8).std.RemoveFrameProps("_Matrix")
    assert frames.colour_of(clip, matrix=6).matrix == 6
    with pytest.raises(vs.Error, match="has no _Matrix property.*pass matrix=1"):
        frames.colour_of(clip, None)


def test_float_rgb_needs_no_colour_information():
    assert frames.colour_of(moving_clip(32, 24, 1, vs.RGBS), None) == frames.Colour()


def test_read_pads_odd_sizes_to_the_multiple_by_reflection():
    frame = moving_clip(61, 45, 1).get_frame(0)
    rgb = frames.read(frame, 8)
    assert rgb.shape == (3, 48, 64) and rgb.dtype == np.float32 and rgb.flags.c_contiguous
    expected = np.pad(planes(frame).astype(np.float32), ((0, 0), (0, 3), (0, 3)), mode="reflect")
    np.testing.assert_array_equal(rgb, expected)


def test_read_clips_to_zero_one_and_turns_nan_into_zero():
    frame = core.std.BlankClip(format=vs.RGBS, width=8, height=8, color=[0.5] * 3).get_frame(0).copy()
    np.asarray(frame[0])[0, :4] = [np.nan, np.inf, -np.inf, 1.5]
    rgb = frames.read(frame, 8)
    assert rgb[0, 0, :4].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert (rgb[1:] == 0.5).all()


def test_a_gray_frame_is_read_as_three_equal_planes_and_written_as_their_mean():
    frame = moving_clip(16, 8, 1, vs.GRAYS).get_frame(0)
    rgb = frames.read(frame, 8)
    assert all(np.array_equal(rgb[p], np.asarray(frame[0])) for p in range(3))
    out = frame.copy()
    frames.write(np.stack([rgb[0], rgb[0] + 0.25, rgb[0] + 0.5]), out)
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(frame[0]) + 0.25, atol=1e-6)


def test_write_crops_the_padding_off():
    frame = moving_clip(61, 45, 1).get_frame(0)
    out = frame.copy()
    frames.write(frames.read(frame, 8) * 0.5, out)
    np.testing.assert_allclose(planes(out), planes(frame) * 0.5, atol=1e-7)
