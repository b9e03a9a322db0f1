"""vs_dvd.align: neighbours warped onto the centre frame by optical flow (the input of DBN+flow)."""
import numpy as np
import pytest
from training_helpers import panning

from vs_dvd.align import align_window

MARGIN = 12  # flow at the frame's edges sees content that left the picture


def interior_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in [0, 1] units away from the edges."""
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    inner = (slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN))
    return float(np.abs(a[inner].astype(np.float64) - b[inner].astype(np.float64)).mean() / scale)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_panning_neighbours_land_on_the_centre(dtype):
    frames = [f if dtype == np.uint8 else f.astype(np.float32) / 255 for f in panning(5)]
    aligned = align_window(frames)
    centre = frames[2]
    assert aligned[2] is centre
    for before, after in zip(frames, aligned):
        assert after.shape == centre.shape and after.dtype == centre.dtype
        if before is not centre:
            assert interior_error(before, centre) > 0.05  # 2 to 4 px of texture apart
            assert interior_error(after, centre) < 0.01, interior_error(after, centre)


def test_repeated_centre_frames_come_back_as_they_are():
    frames = panning(3)
    window = [frames[0], frames[0], frames[0], frames[1], frames[2]]  # the first frame of a clip
    aligned = align_window(window)
    assert all(a is f for a, f in zip(aligned[:3], window[:3]))


def test_an_unknown_method_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown alignment 'raft'; this version knows dis-fast"):
        align_window(panning(5), "raft")
