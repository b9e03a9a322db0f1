"""Running the model on tiles of a frame and blending them back without seams.

Tiles overlap by ``overlap`` pixels; inside an overlap each tile's weight falls off as half a Hann
window (sin^2), so two tiles meeting there sum to one and no edge of a tile is visible. Sides that
touch the frame border keep full weight.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


def starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: a stride of tile - overlap, the last tile flush with the end."""
    if tile >= size:
        return [0]
    return [*range(0, size - tile, tile - overlap), size - tile]


def ramp(tile: int, overlap: int, rise: bool, fall: bool) -> np.ndarray:
    """One axis of a tile's weight: sin^2 up over the first ``overlap`` pixels, cos^2 down over the last."""
    weight = np.ones(tile, np.float32)
    edge = np.sin(np.pi / 2 * (np.arange(overlap) + 0.5) / overlap) ** 2 if overlap else None
    if rise and overlap:
        weight[:overlap] = edge
    if fall and overlap:
        weight[tile - overlap:] = edge[::-1]
    return weight


def largest_tile(size: tuple[int, int], max_pixels: int, multiple: int) -> tuple[int, int]:
    """``size`` if it has at most ``max_pixels`` pixels, else the first halving of it (longer side
    first, rounded up to ``multiple``) that has."""
    h, w = size
    while h * w > max_pixels and max(h, w) > multiple:
        if h >= w:
            h = -(-h // (2 * multiple)) * multiple
        else:
            w = -(-w // (2 * multiple)) * multiple
    return h, w


@dataclass(frozen=True)
class Tiling:
    """How a padded frame of ``size`` (h, w) is cut into tiles of ``tile`` (h, w)."""

    size: tuple[int, int]
    tile: tuple[int, int]
    overlap: tuple[int, int]

    @classmethod
    def fit(cls, size: tuple[int, int], tile: tuple[int, int] | None,
            overlap: tuple[int, int]) -> Tiling:
        """Tiles no larger than the frame; ``tile`` None means one tile, the whole frame."""
        tile = size if tile is None else (min(tile[0], size[0]), min(tile[1], size[1]))
        return cls(size, tile, overlap)

    @cached_property
    def origins(self) -> list[tuple[int, int]]:
        ys = starts(self.size[0], self.tile[0], self.overlap[0])
        xs = starts(self.size[1], self.tile[1], self.overlap[1])
        return [(y, x) for y in ys for x in xs]

    def weight(self, y: int, x: int) -> np.ndarray:
        """The tile at (y, x)'s blending weight, tile_h x tile_w."""
        (h, w), (th, tw), (oh, ow) = self.size, self.tile, self.overlap
        wy = ramp(th, oh, rise=y > 0, fall=y + th < h)
        wx = ramp(tw, ow, rise=x > 0, fall=x + tw < w)
        return np.outer(wy, wx)

    def run(self, infer: Callable[[Sequence], Any], frames: Sequence) -> Any:
        """``infer`` on every tile of ``frames`` (each C x H x W), blended into one 3 x H x W array: numpy
        arrays on the host, or torch tensors blended on their device."""
        if len(self.origins) == 1:
            return infer(frames)
        (h, w), (th, tw) = self.size, self.tile
        total = weights = None
        for y, x in self.origins:
            out = infer([f[..., y:y + th, x:x + tw] for f in frames])
            weight = _like(out, self.weight(y, x))
            if total is None:
                total, weights = _zeros(out, (3, h, w)), _zeros(out, (h, w))
            total[:, y:y + th, x:x + tw] += out * weight
            weights[y:y + th, x:x + tw] += weight
        return total / weights


def _like(model_output: Any, values: np.ndarray) -> Any:
    """``values`` where ``model_output`` lives: the array itself, or a tensor on the output's device."""
    return values if isinstance(model_output, np.ndarray) else model_output.new_tensor(values)


def _zeros(model_output: Any, shape: tuple[int, ...]) -> Any:
    """float32 zeros where ``model_output`` lives."""
    return np.zeros(shape, np.float32) if isinstance(model_output, np.ndarray) else model_output.new_zeros(shape)
