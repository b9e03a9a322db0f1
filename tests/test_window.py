"""Which five source frames feed output frame n: n-2 ... n+2, repeating the nearest frame of n's own
scene instead of stepping past either end of the clip or across a scene cut."""
from vs_dvd.window import is_cut, window


def no_cuts(k: int) -> bool:
    return False


def cut_after(*frames: int):
    return lambda k: k in frames


def test_a_frame_in_the_middle_sees_its_two_neighbours_on_each_side():
    assert window(5, 10, no_cuts) == [3, 4, 5, 6, 7]


def test_the_first_frames_repeat_frame_0_for_what_lies_before_the_clip():
    assert window(0, 10, no_cuts) == [0, 0, 0, 1, 2]
    assert window(1, 10, no_cuts) == [0, 0, 1, 2, 3]


def test_the_last_frames_repeat_the_last_frame_for_what_lies_after_the_clip():
    assert window(9, 10, no_cuts) == [7, 8, 9, 9, 9]
    assert window(8, 10, no_cuts) == [6, 7, 8, 9, 9]


def test_a_one_frame_clip_sees_that_frame_five_times():
    assert window(0, 1, no_cuts) == [0] * 5


def test_frames_before_a_cut_never_see_the_next_scene():
    assert window(3, 10, cut_after(3)) == [1, 2, 3, 3, 3]
    assert window(2, 10, cut_after(3)) == [0, 1, 2, 3, 3]


def test_frames_after_a_cut_never_see_the_previous_scene():
    assert window(4, 10, cut_after(3)) == [4, 4, 4, 5, 6]
    assert window(5, 10, cut_after(3)) == [4, 4, 5, 6, 7]


def test_a_one_frame_scene_sees_only_itself():
    assert window(5, 10, cut_after(4, 5)) == [5] * 5


def test_a_cut_is_marked_by_scene_change_next_before_it_or_scene_change_prev_after_it():
    assert is_cut({"_SceneChangeNext": 1}, {})
    assert is_cut({}, {"_SceneChangePrev": 1})
    assert not is_cut({"_SceneChangePrev": 1}, {"_SceneChangeNext": 1})  # those mark other cuts
    assert not is_cut({"_SceneChangeNext": 0}, {"_SceneChangePrev": 0})
