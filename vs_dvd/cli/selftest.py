"""Run the model on a small synthetic clip through core.dvd.Deblur on every backend that is usable here,
in fp32, in half precision and (on ov, where the model has one) from its int8 IR, and compare each with the
cpu backend (ONNX Runtime, fp32).

Prints the largest absolute difference per backend and precision (RGB in [0, 1]) with PASS or FAIL
against the tolerance of that precision; a backend that cannot run here is skipped with the reason.
Exit status 1 when anything failed.
"""
from __future__ import annotations

import argparse

import numpy as np

WIDTH, HEIGHT, LENGTH = 64, 64, 6  # seconds on every backend; five-frame windows at both ends and in the middle
# label, Deblur's arguments, the largest |backend - cpu| allowed: fp32 runtimes differ by summation order only;
# fp16 and bfloat16 keep 11 and 8 bits of mantissa through ~30 layers; int8 keeps 8 bits of each activation.
PRECISIONS = [("fp16=False", {"fp16": False, "int8": False}, 1e-4), ("fp16=True ", {"fp16": True, "int8": False}, 0.03),
              ("int8=True ", {"fp16": True, "int8": True}, 0.06)]


def configure(p: argparse.ArgumentParser) -> None:
    from .. import backends

    p.add_argument("--model", metavar="ONNX", help="the model to test (default: the bundled one)")
    p.add_argument("--backend", action="append", choices=backends.NAMES, dest="backends", metavar="NAME",
                   help=f"test only this backend ({', '.join(backends.NAMES)}); repeatable")


def run(a: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    import vapoursynth as vs

    from .. import backends, model

    clip = synthetic_clip()
    try:
        has_int8 = model.load(a.model).int8 is not None
    except vs.Error:  # the reference run below fails with the reason
        has_int8 = False
    reference, failed = None, False
    for name in ["cpu", *(n for n in backends.NAMES if n != "cpu" and n in (a.backends or backends.NAMES))]:
        try:
            backends.resolve(name, 0)
        except vs.Error as e:
            print(f"{name:<5} skipped: {str(e).removeprefix('dvd.Deblur: ')}")
            continue
        for label, options, tolerance in PRECISIONS if name != "cpu" else PRECISIONS[:1]:
            if options["int8"] and not (name == "ov" and has_int8):
                continue
            label = f"{name:<5} {label}"
            try:
                frames = deblurred(clip, a.model, name, **options)
            except vs.Error as e:
                print(f"{label} FAIL: {e}")
                failed = True
                continue
            if reference is None:
                reference = frames
                print(f"{label} reference ({LENGTH} frames of {WIDTH}x{HEIGHT})")
                continue
            difference = float(np.abs(frames - reference).max())
            ok = difference <= tolerance
            failed |= not ok
            print(f"{label} max abs difference from cpu {difference:.2g} (tolerance {tolerance:g}) "
                  f"{'PASS' if ok else 'FAIL'}")
        if reference is None:  # the reference failed: nothing to compare with
            break
    print("selftest " + ("FAILED" if failed or reference is None else "passed"))
    return 1 if failed or reference is None else 0


def synthetic_clip():
    """A smooth colour pattern drifting a few pixels per frame, as RGBS (no rounding hides a difference)."""
    import vapoursynth as vs

    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)

    def paint(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        planes = (np.sin((x + 3 * n) * 0.21) * np.cos(y * 0.17), np.sin((x + y) * 0.11 + n * 0.7),
                  np.cos((y - 2 * n) * 0.23 + x * 0.05))
        for p, plane in enumerate(planes):
            np.asarray(out[p])[...] = 0.5 + 0.4 * plane
        return out

    blank = vs.core.std.BlankClip(format=vs.RGBS, width=WIDTH, height=HEIGHT, length=LENGTH)
    return blank.std.ModifyFrame(blank, paint)


def deblurred(clip, model: str | None, backend: str, **options) -> np.ndarray:
    """Every frame of ``core.dvd.Deblur(clip, ...)`` as one LENGTH x 3 x H x W array."""
    import vapoursynth as vs

    out = vs.core.dvd.Deblur(clip, model=model, backend=backend, **options)
    return np.stack([np.stack([np.asarray(f[p]) for p in range(3)]) for f in out.frames(close=True)])
