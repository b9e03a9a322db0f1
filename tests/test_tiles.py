"""Tiles cover the frame, each no larger than asked, and blend back without seams: half-Hann
ramps in the overlaps sum to one, and the frame's borders keep full weight."""
import numpy as np
import pytest

from vs_dvd.tiles import Tiling, largest_tile, ramp, starts

TILINGS = [((48, 64), (24, 24), (8, 8)), ((48, 64), (32, 40), (16, 16)), ((40, 56), (16, 24), (8, 4)),
           ((48, 64), (48, 32), (0, 0))]


def frames(size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((3, *size), dtype=np.float32) for _ in range(5)]


def centre(tile_frames) -> np.ndarray:
    """A stand-in model that is exactly local: the centre frame."""
    return np.array(tile_frames[2])


def test_tile_origins_step_by_tile_minus_overlap_and_the_last_tile_ends_at_the_edge():
    assert starts(100, 40, 8) == [0, 32, 60]
    assert starts(96, 40, 8) == [0, 32, 56]
    assert starts(40, 40, 8) == [0]
    assert starts(30, 40, 8) == [0]


def test_two_overlapping_ramps_sum_to_one():
    tile, overlap = 24, 8
    falling, rising = ramp(tile, overlap, rise=False, fall=True), ramp(tile, overlap, rise=True, fall=False)
    np.testing.assert_allclose(falling[tile - overlap:] + rising[:overlap], 1, atol=1e-6)
    assert (falling[:tile - overlap] == 1).all() and (rising[overlap:] == 1).all()


def test_sides_on_the_frame_border_keep_full_weight():
    tiling = Tiling.fit((48, 64), (24, 24), (8, 8))
    corner = tiling.weight(0, 0)
    assert (corner[:16, :16] == 1).all()  # no fade along the top and left borders
    assert corner[-1, -1] < 0.1  # inside the frame, right and bottom fade out


@pytest.mark.parametrize("size, tile, overlap", TILINGS)
def test_tiles_cover_the_frame_and_reassemble_a_local_model_exactly(size, tile, overlap):
    tiling = Tiling.fit(size, tile, overlap)
    covered = np.zeros(size, bool)
    for y, x in tiling.origins:
        covered[y:y + tile[0], x:x + tile[1]] = True
    assert covered.all()
    inputs = frames(size)
    np.testing.assert_allclose(tiling.run(centre, inputs), inputs[2], atol=1e-6)


def test_tiles_that_disagree_blend_without_a_visible_step():
    """Each tile's output is offset by a different amount: across every overlap the blend ramps from
    one offset to the next, never stepping by more than the Hann ramp's steepest slope."""
    tiling = Tiling.fit((32, 96), (32, 40), (16, 16))
    offsets = iter([0.0, 1.0, 0.0, 1.0])
    flat = [np.zeros((3, 32, 96), np.float32)] * 5
    out = tiling.run(lambda tile: centre(tile) + next(offsets), flat)
    steps = np.abs(np.diff(out, axis=2)).max()
    assert steps <= np.pi / (2 * 16) + 1e-6  # a hard seam would step by 1.0
    assert out[:, :, 0].max() == 0 and out[:, :, 95].min() == 1.0


def test_no_tiles_means_one_call_on_the_whole_frames():
    tiling = Tiling.fit((48, 64), None, (8, 8))
    calls = []
    inputs = frames((48, 64))
    out = tiling.run(lambda f: calls.append(f) or centre(f), inputs)
    assert tiling.origins == [(0, 0)] and len(calls) == 1 and calls[0] is inputs
    np.testing.assert_array_equal(out, inputs[2])


def test_tiles_larger_than_the_frame_are_cut_to_the_frame():
    assert Tiling.fit((48, 64), (64, 32), (8, 8)).tile == (48, 32)


def test_largest_tile_halves_the_longer_side_until_it_fits_in_multiples_of_8():
    assert largest_tile((1080, 1920), 1080 * 1920, 8) == (1080, 1920)
    assert largest_tile((1088, 1920), 1088 * 1920 // 2, 8) == (1088, 960)
    assert largest_tile((1088, 1928), 1088 * 968, 8) == (1088, 968)  # 964 rounded up to 8
    assert largest_tile((1088, 1920), 1088 * 1920 // 4, 8) == (544, 960)
    assert largest_tile((64, 64), 1, 8) == (8, 8)  # never below one multiple
