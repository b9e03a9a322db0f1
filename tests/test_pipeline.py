"""The filter graph: which frames the model sees, that it sees them exactly, and that each source
frame is converted and uploaded once however the output frames are requested."""
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import vapoursynth as vs

import vs_dvd

from plugin_helpers import array_clip, moving_clip, picker_onnx, planes, run_onnx
from training_helpers import panning
from vs_dvd import model as models
from vs_dvd.align import align_window
from vs_dvd.backends import cpu
from vs_dvd.pipeline import Deblurrer, HostPath, SourceCache, shifted
from vs_dvd.tiles import Tiling


def deblurrer(model_path, clip: vs.VideoNode, tile=None, overlap=(0, 0)) -> Deblurrer:
    info = models.load(model_path)
    size = (-(-clip.height // 8) * 8, -(-clip.width // 8) * 8)
    tiling = Tiling.fit(size, tile, overlap)
    backend = cpu.create(info, device_id=0, fp16=False, num_streams=1, num_threads=1, shape=tiling.tile)
    return Deblurrer(clip, backend, HostPath(backend, info.multiple), tiling, info.multiple, info.align)


def with_cuts(clip: vs.VideoNode) -> vs.VideoNode:
    """Scene changes between frames 3 | 4 (marked on 4) and 7 | 8 (marked on 7)."""
    return (clip[:4] + clip[4].std.SetFrameProps(_SceneChangePrev=1) + clip[5:7]
            + clip[7].std.SetFrameProps(_SceneChangeNext=1) + clip[8:])


# output frame -> the source frames the model must see, oldest first
WINDOWS_WITH_CUTS = {0: [0, 0, 0, 1, 2], 2: [0, 1, 2, 3, 3], 3: [1, 2, 3, 3, 3], 4: [4, 4, 4, 5, 6],
                     5: [4, 4, 5, 6, 7], 7: [5, 6, 7, 7, 7], 8: [8, 8, 8, 9, 9], 9: [8, 8, 9, 9, 9]}


def test_output_equals_onnx_runtime_on_the_window_it_should_see(model_path):
    clip = with_cuts(moving_clip(64, 48, 10))
    out = deblurrer(model_path, clip).clip()
    source = [planes(clip.get_frame(k)).astype(np.float32) for k in range(10)]
    for n, window in WINDOWS_WITH_CUTS.items():
        expected = run_onnx(model_path, [source[k] for k in window])
        error = np.abs(planes(out.get_frame(n)) - expected).max()
        assert error <= 1e-5, (n, error)


def test_odd_sizes_are_padded_and_cropped_back(model_path):
    clip = moving_clip(61, 45, 3)
    out = deblurrer(model_path, clip).clip()
    frame = out.get_frame(1)
    assert (frame.width, frame.height) == (61, 45)
    padded = [np.pad(planes(clip.get_frame(k)).astype(np.float32), ((0, 0), (0, 3), (0, 3)),
                     mode="reflect") for k in (0, 0, 1, 2, 2)]
    expected = run_onnx(model_path, padded)[:, :45, :61]
    assert np.abs(planes(frame) - expected).max() <= 1e-5


def test_each_source_frame_is_converted_and_uploaded_once(model_path):
    clip = moving_clip(32, 24, 10)
    filter = deblurrer(model_path, clip)
    out = filter.clip()
    for n in range(10):
        out.get_frame(n)
    assert filter.sources.made == 10  # not 5 per output frame


def test_request_order_and_concurrency_do_not_change_the_output(model_path):
    clip = with_cuts(moving_clip(48, 40, 10))
    sequential = deblurrer(model_path, clip, tile=(24, 24), overlap=(8, 8))
    reference = [planes(sequential.clip().get_frame(n)) for n in range(10)]
    shuffled = deblurrer(model_path, clip, tile=(24, 24), overlap=(8, 8))
    out = shuffled.clip()
    order = random.Random(0).sample(range(10), 10)
    futures = {n: out.get_frame_async(n) for n in order}
    for n, future in futures.items():
        np.testing.assert_array_equal(planes(future.result()), reference[n])
    assert shuffled.sources.made == 10


def test_a_model_trained_on_aligned_windows_gets_its_neighbours_warped_onto_the_centre(tmp_path):
    pan = [f.transpose(2, 0, 1).astype(np.float32) / 255 for f in panning(8, 72, 96)]
    clip = array_clip(lambda n: pan[n], 96, 72, 8)
    aligned = deblurrer(picker_onnx(tmp_path / "aligned.onnx", index=0, align="dis-fast"), clip)
    plain = deblurrer(picker_onnx(tmp_path / "plain.onnx", index=0), clip)
    inner = (slice(None), slice(12, -12), slice(12, -12))
    for n in (2, 5):
        window = [pan[k] for k in range(n - 2, n + 3)]
        expected = align_window([f.transpose(1, 2, 0) for f in window])[0].transpose(2, 0, 1)
        out = planes(aligned.clip().get_frame(n))
        np.testing.assert_allclose(out, expected, atol=1e-6)
        assert np.abs(out - pan[n])[inner].mean() < 0.01  # frame n-2, moved onto frame n
        np.testing.assert_array_equal(planes(plain.clip().get_frame(n)), pan[n - 2])


def test_shifted_clip_clamps_at_both_ends():
    clip = moving_clip(8, 8, 4)
    for offset in (-2, -1, 1, 2):
        moved = shifted(clip, offset)
        assert moved.num_frames == 4
        for n in range(4):
            k = min(max(n + offset, 0), 3)
            np.testing.assert_array_equal(planes(moved.get_frame(n)), planes(clip.get_frame(k)))


def test_source_cache_makes_each_frame_once_under_concurrent_use():
    made = []
    cache = SourceCache(capacity=16, make=lambda frame: made.append(frame) or object())
    keys = [k for k in range(10) for _ in range(8)]
    random.Random(1).shuffle(keys)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda k: (k, cache.get(k, k)), keys))
    assert sorted(made) == list(range(10)) and cache.made == 10
    for k, value in results:
        assert value is cache.get(k, k)


def test_source_cache_is_bounded():
    cache = SourceCache(capacity=3, make=lambda frame: frame)
    for k in range(6):
        cache.get(k, k)
    cache.get(0, 0)  # evicted long ago: made again
    assert cache.made == 7


def test_streams_render_the_same_frames_as_one_and_keep_every_frames_properties(model_path):
    clip = with_cuts(moving_clip(64, 48, 11))
    clip = clip.std.ModifyFrame(clip, lambda n, f: _labelled(f, n))
    one = deblurrer(model_path, clip).clip()
    for streams in (2, 3, 16):  # 16: more streams than frames
        many = deblurrer(model_path, clip).clip(streams)
        assert many.num_frames == 11
        for n in range(11):
            assert np.array_equal(planes(many.get_frame(n)), planes(one.get_frame(n))), (streams, n)
    out = vs_dvd.deblur(clip, model=str(model_path), backend="cpu", num_streams=3)
    assert [f.props["Label"] for f in out.frames(close=True)] == list(range(11))


def _labelled(f: vs.VideoFrame, n: int) -> vs.VideoFrame:
    out = f.copy()
    out.props["Label"] = n
    return out


def test_streams_put_that_many_frames_in_flight(model_path):
    """One ModifyFrame runs its callback for one frame at a time; streams interleave that many of them."""
    clip = moving_clip(32, 24, 12)
    filter = deblurrer(model_path, clip)
    active, peak, lock = [0], [0], threading.Lock()
    infer = filter.backend.infer

    def slow_infer(frames):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)  # long enough that requests overlap when they can
        try:
            return infer(frames)
        finally:
            with lock:
                active[0] -= 1

    filter.backend.infer = slow_infer
    threads, vs.core.num_threads = vs.core.num_threads, max(vs.core.num_threads, 3)
    try:
        for streams, expected in ((1, 1), (3, 3)):
            peak[0] = 0
            list(filter.clip(streams).frames(close=True))
            assert peak[0] == expected, streams
    finally:
        vs.core.num_threads = threads
