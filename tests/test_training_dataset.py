"""training.data.dataset: clips on disk, and the random training samples drawn from them."""
import dataclasses

import numpy as np
import pytest
import torch
from training_helpers import make_dataset, texture

from training.data.dataset import ClipDataset, DeviceBatches, has_clip, write_clip
from vs_dvd.basics import neighbours


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Blurry frame j is the sharp one brightened by 10 * j: aligned crops differ by that constant only."""
    sharp = np.stack([texture((64, 64), seed=0) // 2] * 4)
    blurry = np.stack([sharp[j] + 10 * j for j in range(4)]).astype(np.uint8)
    return make_dataset(tmp_path_factory.mktemp("data"), {"a": (blurry, sharp, "train"),
                                                          "b": (blurry, sharp, "val")})


def test_a_clip_is_written_whole_or_refused(tmp_path):
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="must both be T x H x W x 3"):
        write_clip(tmp_path, "c", frames, frames[:1], {})
    write_clip(tmp_path, "c", frames, frames, {"split": "val"})
    assert has_clip(tmp_path, "c") and not has_clip(tmp_path, ".c.tmp")
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_augmentation_keeps_the_five_frames_and_the_target_aligned(data):
    dataset = ClipDataset([data], "train", crop=24, augment=True, seed=3)
    for i in range(20):
        x, y = dataset[i]
        assert x.shape == (15, 24, 24) and y.shape == (3, 24, 24)
        offsets = [x[3 * f:3 * f + 3] - y for f in range(5)]  # each: a constant 10 * j / 255, up to rounding
        assert all(float(o.max() - o.min()) <= 1.5 / 255 for o in offsets), i
        frames = [round(float(o.mean()) * 255 / 10) for o in offsets]  # which blurry frame each one is
        assert frames == neighbours(frames[2], 4), i  # oldest first, around the target's own frame


def test_a_sample_is_a_pure_function_of_seed_and_index(data):
    a, b = ClipDataset([data], "train", crop=16, seed=1), ClipDataset([data], "train", crop=16, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a[7], b[7]))
    assert not torch.equal(a[7][0], ClipDataset([data], "train", crop=16, seed=2)[7][0])


def test_validation_crops_are_centred_and_unaugmented(data):
    x, y = ClipDataset([data], "val", crop=32, augment=False)[0]
    sharp = np.load(data / "b" / "sharp.npy")
    k = [k for k in range(4) if np.array_equal(sharp[k][16:48, 16:48], (y * 255).round().byte().permute(1, 2, 0).numpy())]
    assert k, "the target is the centred 32 x 32 crop of a sharp frame"


def test_a_split_without_clips_is_an_error_that_names_it(data):
    with pytest.raises(ValueError, match="no 'test' clips"):
        ClipDataset([data], "test")


@pytest.mark.parametrize("sharp_frames", [0.0, 0.5])
def test_batches_cut_on_the_device_are_the_loaders_samples(data, sharp_frames):
    """Same crops, frames, resampling, turns, flips and lucky frames: one cut for both."""
    dataset = ClipDataset([data], "train", crop=16, augment=True, seed=5, sharp_frames=sharp_frames)
    x, y = DeviceBatches(dataset, torch.device("cpu"))(list(range(8, 40)))
    assert x.shape == (32, 15, 16, 16) and y.shape == (32, 3, 16, 16)
    assert any(dataset.plan(i).span != 16 for i in range(8, 40))  # some samples were resampled
    for row, i in enumerate(range(8, 40)):
        ex, ey = dataset[i]
        assert torch.equal(x[row], ex) and torch.equal(y[row], ey), i


def test_a_folder_listed_twice_is_held_on_the_device_once(data):
    dataset = ClipDataset([data, data], "train", crop=16)
    cut = DeviceBatches(dataset, torch.device("cpu"))
    half = len(dataset.clips) // 2
    assert half and all(cut.clips[n][0] is cut.clips[n + half][0] for n in range(half))


def test_lucky_frames_are_fed_sharp_and_leave_the_other_draws_alone(data):
    plain = ClipDataset([data], "train", crop=16, seed=4)
    lucky = ClipDataset([data], "train", crop=16, seed=4, sharp_frames=0.5)
    fed = []
    for i in range(40):
        p = lucky.plan(i)
        assert dataclasses.replace(p, sharp=plain.plan(i).sharp) == plain.plan(i)  # same crop, frame, turn, flip
        x, y = lucky[i]
        offsets = [round(float((x[3 * f:3 * f + 3] - y).mean()) * 255) for f in range(5)]
        assert offsets == [0 if sharp else 10 * j for j, sharp in zip(neighbours(p.frame, 4), p.sharp)], i
        fed += p.sharp
    assert 0.35 < np.mean(fed) < 0.65
    assert not any(ClipDataset([data], "val", crop=16, augment=False, sharp_frames=0.5).plan(0).sharp)
    with pytest.raises(ValueError, match="probability"):
        ClipDataset([data], sharp_frames=1.5)
