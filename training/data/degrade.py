"""What a real camera adds to a blurry frame: sensor noise, then H.264 compression.

Only the model's input is degraded; the sharp target stays clean, so the model learns to see through
both instead of copying them, as real phone and camcorder footage needs.
"""
from __future__ import annotations

import numpy as np


def draw(rng: np.random.Generator, noise: bool, compress: bool) -> dict:
    """Degradation levels for one clip: Poisson-Gaussian noise of variance ``shot * x + read`` (phone sensors
    from base ISO to a few stops up) and an H.264 CRF of 18-30; absent keys: no such degradation."""
    levels = {}
    if noise:
        levels.update(shot=round(10 ** rng.uniform(-4.0, -2.5), 6), read=round(10 ** rng.uniform(-6.0, -4.0), 8))
    if compress:
        levels["crf"] = int(rng.integers(18, 31))
    return levels


def noise(linear: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise on linear-light values."""
    sigma = np.sqrt(shot * np.clip(linear, 0.0, 1.0) + read)
    return np.clip(linear + rng.normal(size=linear.shape) * sigma, 0.0, 1.0).astype(np.float32)


def compress(frame: np.ndarray, crf: int) -> np.ndarray:
    """One H x W x 3 uint8 RGB frame through libx264 (an intra frame, 4:2:0) and back. PyAV is imported here, so
    that a synthesis without compression runs where it is missing (the lent GPU machine, recipes/device.sh)."""
    import av

    h, w = frame.shape[:2]
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
    encoder.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
    picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:encoder.height, :encoder.width]), format="rgb24")
    packets = [*encoder.encode(picture), *encoder.encode(None)]
    decoder = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in decoder.decode(p)] + list(decoder.decode(None))
    out = frame.copy()
    out[:encoder.height, :encoder.width] = decoded[0].to_ndarray(format="rgb24")
    return out
