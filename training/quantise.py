"""Quantise an exported DBN to int8 for OpenVINO (``backend="ov", int8=True``), beside ``training.export``.

``python -m training.quantise MODEL.onnx DATASET_DIR...`` calibrates NNCF's post-training quantisation on
five-frame windows of the dataset clips (the training corpus), writes an OpenVINO IR ``MODEL.int8.xml`` /
``.bin`` next to the model and records both files' hashes in the model's sidecar, so the runtime finds and
checks them. The convolutions of the encoder-decoder run in int8; what quality needs stays in floating point
(``KEEP_FLOAT``): the first layer and the full-resolution skip it feeds, the last layers that write the
residual, the gate, and the centre-frame path that adds the residual to the centre frame, gates it and clamps
it. Rerun it whenever the ONNX changes: ``training.export``
writes a fresh sidecar, which drops the old int8 entry.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from vs_dvd.trt_build.files import atomic_write_bytes
from vs_dvd.basics import MULTIPLE, dataset_clips, neighbours
from vs_dvd.model import int8_files, sidecar_path

# OpenVINO node names (from the ONNX export) kept in floating point. Every DBN has the residual's last two
# layers, the output, the full-resolution skip (U3 + F0, its ReLU) and F0 itself: with that skip quantised,
# OpenVINO's CPU plugin fuses the quantiser into F0's convolution and, on dynamic shapes, the int8 graph loses
# the correction (output = input); kept in float, F0 writes float for the skip and a separate quantiser feeds
# D1. F0 reads all 15 input channels at full resolution: in float it also roughly halves int8's error against
# fp32. The rest depend on the head and the gate: the gate, and the elementwise ops on the centre frame
# (Slice, the residual Add, Clip, Sub, the gate's Mul).
EVERY_DBN = [r"/F6_1/.*", r"/F6_2/.*", r"sharp", r"/Add_2", r"/Relu_2", r"/F0/.*"]
KEEP_FLOAT = EVERY_DBN + [r".*gate.*", r"/Slice.*", r"/Add_3", r"/Clip.*", r"/Sub", r"/Mul"]
SAMPLES = 96  # calibration windows
CROP = 256  # calibration window side in px (a multiple of MULTIPLE)


def calibration_windows(datasets: list[Path], split: str | None, samples: int, crop: int,
                        seed: int = 0) -> list[np.ndarray]:
    """``samples`` 1 x 15 x crop x crop float32 windows in [0, 1]: five blurry frames around a random frame of
    a random clip (clip ends repeated, as the plugin feeds them), at a random place."""
    rng = np.random.default_rng(seed)
    clips = dataset_clips(datasets, split)
    out = []
    for _ in range(samples):
        clip = clips[rng.integers(len(clips))]
        blurry = np.load(clip / "blurry.npy", mmap_mode="r")
        t, h, w = blurry.shape[:3]
        side = min(crop, h - h % MULTIPLE, w - w % MULTIPLE)
        k, y, x = rng.integers(t), rng.integers(h - side + 1), rng.integers(w - side + 1)
        frames = [blurry[j, y:y + side, x:x + side] for j in neighbours(int(k), t)]
        out.append((np.concatenate(frames, -1).transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32))
    return out


def kept_float(network, gated: bool) -> dict[str, list[str]]:
    """The ``KEEP_FLOAT`` patterns that match nodes of ``network`` (an OpenVINO model) -> those nodes; a
    ValueError when one that every DBN (or every gated one) has matches nothing: the export's names changed."""
    import re

    names = [op.get_friendly_name() for op in network.get_ordered_ops() if op.get_type_name() != "Constant"]
    kept = {pattern: [n for n in names if re.match(pattern, n)] for pattern in KEEP_FLOAT}
    needed = EVERY_DBN + ([r".*gate.*"] if gated else [])
    if missing := [pattern for pattern in needed if not kept[pattern]]:
        raise ValueError(f"KEEP_FLOAT patterns {missing} match no node of the model: its node names changed; "
                         "update training/quantise.py")
    return {pattern: matched for pattern, matched in kept.items() if matched}


def quantise(model: Path, datasets: list[Path], split: str | None = "train", samples: int = SAMPLES,
             crop: int = CROP, seed: int = 0) -> dict:
    """Write ``model``'s int8 IR next to it and record it in its sidecar; returns the sidecar's ``int8`` entry."""
    from vs_dvd.backends.ov import import_openvino, import_without_telemetry

    nncf = import_without_telemetry("nncf")

    model = Path(model)
    side = sidecar_path(model)
    if not side.is_file():
        raise ValueError(f"{model} has no sidecar {side}: quantise models written by training.export")
    sidecar = json.loads(side.read_text())
    data = model.read_bytes()
    if sidecar.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ValueError(f"{model} does not match its sidecar {side}; re-export it with training.export")
    ov = import_openvino()
    network = ov.Core().read_model(data, b"")
    kept = kept_float(network, bool((sidecar.get("architecture") or {}).get("gate")))
    windows = calibration_windows(datasets, split, samples, crop, seed)
    # Activation ranges from the calibration's overall min and max: NNCF's default (the mean of each window's
    # max) clipped the input frames at 0.91 and the trunk's long-tailed activations.
    ranges = nncf.quantization.advanced_parameters.AdvancedQuantizationParameters(
        activations_range_estimator_params=nncf.quantization.range_estimator.RangeEstimatorParametersSet.MINMAX)
    quantised = nncf.quantize(network, nncf.Dataset(windows), subset_size=len(windows),
                              ignored_scope=nncf.IgnoredScope(patterns=list(kept), validate=True),
                              advanced_parameters=ranges)
    xml, binary = int8_files(model)
    with tempfile.TemporaryDirectory(dir=model.parent, prefix=f".{xml.name}.") as tmp:
        ov.save_model(quantised, str(Path(tmp) / xml.name), compress_to_fp16=True)
        texts = {path: (Path(tmp) / path.name).read_bytes() for path in (xml, binary)}
    entry = {
        "xml": xml.name, "bin": binary.name, "onnx_sha256": sidecar["sha256"],
        "sha256": {path.name: hashlib.sha256(text).hexdigest() for path, text in texts.items()},
        "tool": f"nncf {nncf.__version__} post-training quantisation (python -m training.quantise)",
        "calibration": {"datasets": [Path(d).name for d in datasets], "split": split, "windows": samples,
                        "crop": crop, "seed": seed},
        "kept_float": {pattern: len(names) for pattern, names in kept.items()},  # nodes each pattern matched
    }
    for path in (binary, xml):  # the sidecar, written last, names the pair only once both are in place
        atomic_write_bytes(path, texts[path])
    atomic_write_bytes(side, (json.dumps({**sidecar, "int8": entry}, indent=2) + "\n").encode())
    return entry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.quantise",
        description="Quantise an exported model to int8 (OpenVINO IR beside it, recorded in its sidecar) with NNCF, "
                    "calibrated on windows of dataset clips.")
    parser.add_argument("model", type=Path, help="an .onnx written by training.export (with its sidecar)")
    parser.add_argument("datasets", type=Path, nargs="+", metavar="DATASET_DIR",
                        help="dataset folders (training.data.*) to calibrate on: the training mix")
    parser.add_argument("--split", default="train", help="clips of this split (default %(default)s; 'all': every clip)")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="calibration windows (default %(default)s)")
    parser.add_argument("--crop", type=int, default=CROP, help=f"window side in px, a multiple of {MULTIPLE} "
                                                                "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.crop % MULTIPLE or args.crop < MULTIPLE or args.samples < 1:
        parser.error(f"--crop must be a positive multiple of {MULTIPLE} and --samples at least 1")
    try:
        entry = quantise(args.model, args.datasets, None if args.split == "all" else args.split, args.samples,
                         args.crop, args.seed)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    for pattern, count in entry["kept_float"].items():
        print(f"kept in floating point: {pattern} ({count} nodes)")
    print(f"wrote {args.model.parent / entry['xml']} and {entry['bin']} (int8), recorded in {sidecar_path(args.model)}")


if __name__ == "__main__":
    main()
