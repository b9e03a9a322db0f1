"""training.data.clips: a frame stream becomes clips, split at breaks and every ``chunk`` frames, resumably."""
import numpy as np
import pytest
from training_helpers import moving_point, write_video

from training.data.clips import clip_names, write_clips
from training.data.dataset import has_clip


def pair(i: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((2, 2, 3), i, np.uint8), np.full((2, 2, 3), 100 + i, np.uint8)


def lengths(out) -> dict[str, list[int]]:
    return {p.name: np.load(p / "sharp.npy")[:, 0, 0, 0].tolist() for p in sorted(out.glob("s-*"))}


def test_clips_end_at_breaks_and_every_chunk_frames(tmp_path):
    items = [0, 1, 2, None, None, 3, 4, 5, 6]
    breaks = write_clips(items, pair, tmp_path, "s", {"split": "train"}, chunk=3)
    assert breaks == 2
    assert lengths(tmp_path) == {"s-0000": [100, 101, 102], "s-0001": [103, 104, 105], "s-0002": [106]}


def test_a_finished_source_is_not_read_again(tmp_path):
    write_clips(range(4), pair, tmp_path, "s", {}, chunk=2)

    def never():
        raise AssertionError("a finished source was read again")
        yield

    assert write_clips(never(), pair, tmp_path, "s", {}, chunk=2) == 0


def test_clips_on_disk_are_counted_but_not_recomputed(tmp_path):
    write_clips(range(4), pair, tmp_path, "s", {}, chunk=2)
    (tmp_path / ".s.done.json").unlink()  # as if killed before the source was recorded as finished
    made = []
    write_clips(range(6), lambda i: made.append(i) or pair(i), tmp_path, "s", {}, chunk=2)
    assert made == [4, 5] and has_clip(tmp_path, "s-0002")


def test_a_failing_frame_maker_leaves_no_partial_clip(tmp_path):
    def make(i):
        if i == 3:
            raise RuntimeError("boom")
        return pair(i)

    with pytest.raises(RuntimeError):
        write_clips(range(5), make, tmp_path, "s", {}, chunk=2)
    assert list(lengths(tmp_path)) == ["s-0000"] and not (tmp_path / ".s.done.json").exists()


def test_two_sources_with_one_name_are_refused(tmp_path):
    videos = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        videos.append(write_video(tmp_path / folder / "clip.mov", moving_point(1)))
    with pytest.raises(ValueError, match="would all write clips named 'clip'"):
        clip_names(videos)
