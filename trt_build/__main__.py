"""``python -m vs_dvd.trt_build MODEL.onnx``: build a TensorRT engine and its sidecar (docs/trt.md has the details).

Exit status: 0 built (and every --check measurement taken and on target), 1 the build failed or a
measurement missed its target, 2 bad arguments, 3 built but a --check measurement could not be taken
(no CUDA GPU for the engine, say): the check is incomplete, not passed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import BuildError, build_engine, sidecar_path
from .flavour import MODULES, FlavourError, load
from .precision import PRECISIONS
from .profile import Profile, parse_shape

DEFAULT_SHAPE = "1088x1920"


def _shape(text: str) -> tuple[int, int]:
    try:
        return parse_shape(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _capabilities(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or not all(v.replace(".", "", 1).isdigit() and "." in v for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected compute capabilities like 8.6 or 8.6,8.9")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vs_dvd.trt_build", description="Build a TensorRT or TensorRT-RTX engine "
                                "(plus a JSON sidecar) from a DBN ONNX model. See docs/trt.md.")
    p.add_argument("onnx", type=Path, help="the model: vs_dvd/data/dbn.onnx or a training/export.py export")
    p.add_argument("-o", "--output", type=Path, help="engine file (default: the ONNX path with .engine); "
                   "the sidecar goes next to it as ENGINE.json")
    group = p.add_mutually_exclusive_group()
    precision_help = {"fp16": "convolution trunk in fp16, head and I/O in fp32 (default)",
                      "fp32": "everything in fp32: twice the size, the most exact",
                      "bf16": "like --fp16 with bf16, but transposed convolutions stay fp32"}
    for name in PRECISIONS:
        group.add_argument(f"--{name}", dest="precision", action="store_const", const=name, help=precision_help[name])
    p.set_defaults(precision="fp16")
    p.add_argument("--opt-shape", type=_shape, default=DEFAULT_SHAPE, metavar="HxW",
                   help=f"the input size to tune for, in multiples of 8 (default {DEFAULT_SHAPE})")
    p.add_argument("--min-shape", type=_shape, metavar="HxW", help="smallest accepted input (default: opt)")
    p.add_argument("--max-shape", type=_shape, metavar="HxW", help="largest accepted input (default: opt)")
    p.add_argument("--workspace", type=int, metavar="MIB", help="limit on the builder's scratch memory")
    p.add_argument("--device", type=int, default=0, metavar="N", help="the CUDA GPU to build for (default 0)")
    p.add_argument("--compute-capability", type=_capabilities, metavar="CC[,CC]",
                   help="TensorRT-RTX only: the GPUs to compile for (default: the GPU present, else "
                        "Ampere and newer)")
    p.add_argument("--flavour", choices=sorted(MODULES), help="which TensorRT to use (default: "
                   "$TRT_BUILD_FLAVOUR, else tensorrt if installed, else tensorrt-rtx)")
    p.add_argument("--check", type=Path, metavar="MEDIA", help="after building, compare five frames of this "
                   "video (or image) against ONNX Runtime fp32; exit 1 below the target")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not args.onnx.is_file():
        p.error(f"{args.onnx}: no such file; give the .onnx model, e.g. vs_dvd/data/dbn.onnx")
    if args.workspace is not None and args.workspace <= 0:
        p.error(f"--workspace {args.workspace}: give a positive number of MiB, or leave it out")
    if args.check is not None and not args.check.is_file():
        p.error(f"--check {args.check}: no such file; give a video or an image")
    opt = args.opt_shape  # argparse applies _shape to the default too
    try:
        profile = Profile(args.min_shape or opt, opt, args.max_shape or opt)
    except ValueError as e:
        p.error(str(e))
    output = args.output or args.onnx.with_suffix(".engine")
    try:
        flavour = load(args.flavour)
        sidecar = build_engine(args.onnx, output, precision=args.precision, profile=profile,
                               workspace_mib=args.workspace, device=args.device,
                               compute_capabilities=args.compute_capability, flavour=flavour)
    except (BuildError, FlavourError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{output}: {flavour.label} {args.precision} engine for {profile}, "
          f"{sidecar['engine_bytes'] / 2**20:.1f} MiB, built in {sidecar['build_seconds']:.1f} s; "
          f"sidecar {sidecar_path(output)}")
    if args.check is None:
        return 0
    from .check import check_engine
    from .runner import EngineLoadError

    try:
        measurements = check_engine(args.onnx, output, args.check, device=args.device, flavour=flavour)
    except (ValueError, EngineLoadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"check {args.check}: PSNR against ONNX Runtime fp32")
    for m in measurements:
        print(f"  {m}")
    if any(m.db is not None and not m.passed for m in measurements):
        return 1
    if not all(m.passed for m in measurements):
        print("check incomplete: what was not measured has not passed (exit status 3)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
