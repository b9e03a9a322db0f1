"""How hand-held cameras move during an exposure: families of camera paths, as homographies.

A model trained on one family of camera paths learns that family, not camera shake. Each family here
is a small function ``(n, rng) -> Path`` of the camera's pose at ``n`` virtual frames (240 fps):
translation (px), rotation about the optical axis (roll), about the vertical and horizontal axes (yaw,
pitch: a perspective change) and log-zoom. ``draw`` picks a family, an exposure length, a blur length
and the averaging domain, and scales the path so that points of the view move by the drawn length;
its parameters go into each clip's record. ``homographies`` turns a path into the 3 x 3 maps that
``photos.render`` and ``handheld.shake`` warp with.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from training.data import degrade

RATE = 240.0  # virtual frames per second
AXES = ("dx", "dy", "roll", "zoom", "yaw", "pitch")  # columns of a path


def _tremor(t: np.ndarray, rng: np.random.Generator, low: float = 0.5, high: float = 10.0, waves: int = 4) -> np.ndarray:
    """A sum of ``waves`` sinusoids between ``low`` and ``high`` Hz, amplitude falling as 1 / f."""
    out = np.zeros_like(t)
    for _ in range(waves):
        f = rng.uniform(low, high)
        out += rng.normal() / f * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out


def tremor(n: int, rng: np.random.Generator) -> np.ndarray:
    """A slow pan plus hand tremor (sinusoids at 0.5-10 Hz), translation at an RMS speed of 1 px per
    virtual frame; roll and zoom move the frame's edges (~200 px from the centre) by up to half as much."""
    t = np.arange(n) / RATE
    path = np.zeros((n, len(AXES)))
    for axis in range(4):
        path[:, axis] = _tremor(t, rng) + rng.normal() * t
    path[:, :2] /= _norm(path[:, :2]) + 1e-12
    for axis in (2, 3):
        path[:, axis] *= rng.uniform(0.0, 0.5) / (_norm(path[:, axis:axis + 1]) + 1e-12) / 200.0
    return path


def jolt(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random walk of the camera's velocity (jerk noise) with one to three sudden jolts."""
    path = np.zeros((n, len(AXES)))
    for axis, weight in ((0, 1.0), (1, 1.0), (2, rng.uniform(0.0, 0.01))):
        velocity = np.cumsum(rng.normal(size=n)) / np.sqrt(n) + rng.normal()
        for _ in range(rng.integers(1, 4)):
            at, decay = rng.integers(n), rng.uniform(2.0, 12.0)  # a knock, gone within a few ms
            kick = np.where(np.arange(n) >= at, np.exp(-(np.arange(n) - at) / decay), 0.0)
            velocity += rng.normal() * rng.uniform(3.0, 8.0) * kick
        path[:, axis] = weight * np.cumsum(velocity)
    return path


def walk(n: int, rng: np.random.Generator) -> np.ndarray:
    """Walking with the camera: a vertical bob at the step rate, sway and roll at half of it, a push forward."""
    t = np.arange(n) / RATE
    step = rng.uniform(1.5, 2.5)  # steps per second
    phase = rng.uniform(0, 2 * np.pi, 4)
    path = np.zeros((n, len(AXES)))
    path[:, 1] = np.sin(2 * np.pi * step * t + phase[0]) + 0.3 * np.sin(4 * np.pi * step * t + phase[1])
    path[:, 0] = rng.uniform(0.2, 0.6) * np.sin(np.pi * step * t + phase[2])
    path[:, 2] = rng.uniform(0.002, 0.01) * np.sin(np.pi * step * t + phase[3])
    path[:, 3] = rng.uniform(0.0, 0.002) * t * RATE / 10
    path += 0.05 * np.stack([_tremor(t, rng, 4.0, 12.0) for _ in AXES], axis=1) * [1, 1, 0.01, 0.001, 0, 0]
    return path


def rotation(n: int, rng: np.random.Generator) -> np.ndarray:
    """The camera turns about all three axes (yaw, pitch and a roll of several degrees per second) about its
    centre: a perspective change, no translation."""
    t = np.arange(n) / RATE
    path = np.zeros((n, len(AXES)))
    path[:, 2] = _tremor(t, rng, 0.5, 6.0) + rng.normal() * t * rng.uniform(1.0, 3.0)
    for axis in (4, 5):
        path[:, axis] = _tremor(t, rng, 0.5, 8.0) + rng.normal() * t
    path[:, 2] *= 0.01
    path[:, 4:] *= 0.01
    return path


def zoom(n: int, rng: np.random.Generator) -> np.ndarray:
    """A push-in or pull-out (zoom or dolly) with a little tremor."""
    t = np.arange(n) / RATE
    path = np.zeros((n, len(AXES)))
    path[:, 3] = rng.choice([-1.0, 1.0]) * t + 0.1 * _tremor(t, rng) * 0.01
    path[:, 0], path[:, 1] = (0.002 * _tremor(t, rng, 2.0, 10.0) for _ in range(2))
    return path


FAMILIES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "tremor": tremor, "jolt": jolt, "walk": walk, "rotation": rotation, "zoom": zoom}
EXPOSURES = (3, 5, 7, 9, 11, 13, 15)  # virtual frames averaged: 1/80 s to 1/16 s at 240 fps


def _norm(xy: np.ndarray) -> float:
    """RMS step length of an n x k path."""
    return float(np.sqrt((np.diff(xy, axis=0) ** 2).sum(1).mean())) if len(xy) > 1 else 0.0


def homographies(path: np.ndarray, focal: float) -> np.ndarray:
    """n x 3 x 3: view pixel q (relative to the view's centre, homogeneous) -> scene point (relative to it)."""
    out = np.empty((len(path), 3, 3))
    k, k_inv = np.diag([focal, focal, 1.0]), np.diag([1 / focal, 1 / focal, 1.0])
    for i, (dx, dy, roll, log_zoom, yaw, pitch) in enumerate(path):
        cr, sr, cy, sy, cp, sp = np.cos(roll), np.sin(roll), np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
        rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        scale = np.diag([np.exp(log_zoom), np.exp(log_zoom), 1.0])
        shift = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]])
        out[i] = shift @ k @ ry @ rx @ rz @ k_inv @ scale
    return out


def displacement(maps: np.ndarray, half: tuple[float, float]) -> float:
    """RMS distance per virtual frame that the view's centre, corners and edge midpoints move."""
    hx, hy = half
    probes = np.array([[x, y, 1.0] for x in (-hx, 0, hx) for y in (-hy, 0, hy)]).T  # 3 x 9
    seen = maps @ probes
    xy = seen[:, :2] / seen[:, 2:3]  # n x 2 x 9
    steps = np.diff(xy, axis=0)
    return float(np.sqrt((steps ** 2).sum(1).mean())) if len(xy) > 1 else 0.0


@dataclass(frozen=True)
class Shake:
    """What camera shake to draw for each exposure.

    ``families`` and ``exposures`` are the choices drawn from uniformly; the blur length (how far the
    view's points move within one exposure) is uniform in [0.1, 1] x ``max_blur`` px, or almost none for a
    ``static_share`` of draws; ``gamma_share`` of exposures are averaged in sRGB code values (as the DVD
    footage and cameras that average encoded frames) instead of linear light. ``max_speed`` caps px per
    virtual frame. The defaults are the tremor family, seven frames and linear light of earlier releases.
    """

    families: tuple[str, ...] = ("tremor",)
    exposures: tuple[int, ...] = (7,)
    max_speed: float = 4.0         # px per virtual frame
    max_blur: float | None = None  # px per exposure; None: max_speed x the path's length
    static_share: float = 0.15
    gamma_share: float = 0.0
    noise_share: float = 0.0       # exposures given sensor noise (see degrade.noise)
    compress_share: float = 0.0    # exposures given H.264 compression (see degrade.compress)
    focal: tuple[float, float] = field(default=(0.7, 1.6))  # focal length range, in view widths

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown or not self.families:
            raise ValueError(f"camera families {sorted(unknown) or '(none)'} unknown: choose from {', '.join(FAMILIES)}")
        if not self.exposures or any(e < 1 or e % 2 == 0 for e in self.exposures):
            raise ValueError(f"exposures {self.exposures}: each must be an odd number of virtual frames")
        shares = (self.static_share, self.gamma_share, self.noise_share, self.compress_share)
        if self.max_speed < 0 or not all(0 <= s <= 1 for s in shares):
            raise ValueError(f"{self}: max_speed must be >= 0 and every share within 0..1")

    @property
    def legacy(self) -> bool:
        """True for the tremor-only, fixed-speed draw of earlier releases (kept so their data rebuilds alike)."""
        return self == Shake(static_share=self.static_share, max_speed=self.max_speed)


def draw(shake: Shake, n: int, half: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """(an n x 6 path centred on frame n // 2, the draw's parameters) for one clip or exposure.

    ``substeps`` in the parameters is how many poses to render per virtual frame so that the view moves
    at most about a pixel between two: a fast camera smears instead of leaving ghosts.
    """
    static = rng.random() < shake.static_share
    if shake.legacy:  # the draw of earlier releases: speed first, then the path, RMS speed of the translation
        speed = rng.uniform(0.0, 0.05) if static else shake.max_speed * rng.uniform(0.1, 1.0)
        path = tremor(n, rng) * speed
        return path - path[n // 2], {"family": "tremor", "speed": round(speed, 4)}
    family = shake.families[rng.integers(len(shake.families))]
    exposure = int(shake.exposures[rng.integers(len(shake.exposures))])
    focal = rng.uniform(*shake.focal) * 2 * half[0]
    path = FAMILIES[family](n, rng)
    path -= path[n // 2]
    longest = shake.max_blur or shake.max_speed * exposure
    blur = rng.uniform(0.0, 0.3) if static else longest * rng.uniform(0.05, 1.0) ** 1.5  # more mild than strong
    speed = min(blur / max(exposure - 1, 1), shake.max_speed)
    for _ in range(20):  # the map is nearly linear in the path: rescales reach the speed (zoom's exp too)
        moved = displacement(homographies(path, focal), half)
        if moved == 0 or abs(moved / speed - 1) < 0.01:
            break
        path *= speed / moved
    params = {"family": family, "exposure": exposure, "speed": round(speed, 4), "focal": round(focal, 1),
              "substeps": max(1, int(np.ceil(speed))), "gamma": bool(rng.random() < shake.gamma_share),
              **degrade.draw(rng, rng.random() < shake.noise_share, rng.random() < shake.compress_share)}
    return path, params


def at(path: np.ndarray, time: float) -> np.ndarray:
    """The pose at a fractional virtual-frame ``time``, linearly between the two nearest."""
    i = min(max(int(np.floor(time)), 0), len(path) - 2)
    w = time - i
    return path[i] * (1 - w) + path[i + 1] * w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``Shake``, shared by the synthesis commands."""
    d = Shake()
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(d.families),
                        help="camera-motion families to draw from (default %(default)s)")
    parser.add_argument("--exposures", nargs="+", type=int, default=list(d.exposures), metavar="N",
                        help="virtual frames (1/240 s) averaged per blurry frame, odd (default %(default)s)")
    parser.add_argument("--max-speed", type=float, default=d.max_speed,
                        help="cap on px per virtual frame (default %(default)s)")
    parser.add_argument("--max-blur", type=float, default=d.max_blur,
                        help="longest blur, px the view moves in one exposure (default: max speed x exposure, "
                             "and the tremor family alone keeps the RMS-speed draw of earlier releases)")
    parser.add_argument("--static-share", type=float, default=d.static_share,
                        help="share of exposures the camera holds (almost) still (default %(default)s)")
    parser.add_argument("--gamma-share", type=float, default=d.gamma_share,
                        help="share averaged in sRGB code values instead of linear light (default %(default)s)")
    parser.add_argument("--noise-share", type=float, default=d.noise_share,
                        help="share given sensor noise (default %(default)s)")
    parser.add_argument("--compress-share", type=float, default=d.compress_share,
                        help="share given H.264 compression (default %(default)s)")


def from_arguments(args: argparse.Namespace) -> Shake:
    """The ``Shake`` that ``add_arguments``' options describe (ValueError names a bad one)."""
    return Shake(tuple(args.families), tuple(args.exposures), args.max_speed, args.max_blur, args.static_share,
                 args.gamma_share, args.noise_share, args.compress_share)
