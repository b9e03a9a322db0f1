"""Export a trained DBN to ONNX plus the JSON sidecar that ``vs_dvd`` reads.

``python -m training.export CHECKPOINT -o model.onnx`` folds BatchNorm, exports with dynamic
N/H/W, checks ONNX Runtime against PyTorch on random frames and writes nothing unless they agree.
Every ``<Layer>.conv.weight`` / ``.bias`` is a named initializer, so a PyTorch runtime can rebuild
the folded network from the file alone; ``--fp16-weights`` stores them as float16 behind Cast
nodes (half the file, same names), for large models.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from training import checkpoint
from vs_dvd.trt_build.files import atomic_write_bytes  # one atomic writer for engines, models and checkpoints
from vs_dvd.align import check_method
from vs_dvd.basics import FRAMES, MULTIPLE, parse_size
from vs_dvd.model import sidecar_path  # the runtime reads the sidecar where export writes it
from vs_dvd.network import DBN, fold_batchnorm

INPUT_NAME = "frames"
OUTPUT_NAME = "sharp"
OPSET = 17
FP16_MAX = float(np.finfo(np.float16).max)
TOLERANCE = {False: 1e-4, True: 2e-3}  # max abs error on [0, 1] output, by fp16_weights


def _unshare_initializers(graph: onnx.GraphProto) -> None:
    """Give every layer its own named initializer.

    The exporter stores equal tensors once and aliases the rest through Identity nodes (all-zero
    biases of an untrained model, say); the contract promises ``<Layer>.conv.bias`` by name.
    """
    initializers = {init.name: init for init in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in initializers:
            copy = onnx.TensorProto()
            copy.CopyFrom(initializers[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def _fp16_initializers(graph: onnx.GraphProto) -> None:
    """Store float initializers as float16, each cast back to float by a Cast node, names unchanged."""
    casts, renamed = [], {}
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        if np.abs(values).max(initial=0.0) > FP16_MAX:
            raise ValueError(f"weight {init.name} exceeds the float16 range (|w| > {FP16_MAX:.0f}); "
                             "export without --fp16-weights")
        cast_name = f"{init.name}/float"
        casts.append(helper.make_node("Cast", [init.name], [cast_name], to=TensorProto.FLOAT,
                                      name=f"{init.name}/cast"))
        renamed[init.name] = cast_name
        init.CopyFrom(numpy_helper.from_array(values.astype(np.float16), init.name))
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def _cpu_copy(model: DBN) -> DBN:
    """A float32 CPU copy in eval mode: exporting never moves or switches the caller's model."""
    return copy.deepcopy(model).float().cpu().eval()


def onnx_bytes(model: DBN, *, fp16_weights: bool = False) -> bytes:
    """The serialised ONNX graph of ``model`` with BatchNorm folded (the file's contents, unchecked)."""
    folded = _cpu_copy(model)
    if any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()):
        folded = fold_batchnorm(folded)
    dummy = torch.zeros(1, 3 * FRAMES, 2 * MULTIPLE, 2 * MULTIPLE)  # tracing only; leaves the global RNG alone
    axes = {0: "N", 2: "H", 3: "W"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(folded, (dummy,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes}, do_constant_folding=True)
    proto = onnx.load_from_string(buffer.getvalue())
    _unshare_initializers(proto.graph)
    if fp16_weights:
        _fp16_initializers(proto.graph)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


@torch.no_grad()
def parity_error(model: DBN, data: bytes, size: tuple[int, int] = (64, 96), seed: int = 0) -> float:
    """Max abs difference between ONNX Runtime on ``data`` and PyTorch on ``model`` (eval), random frames."""
    import onnxruntime as ort

    frames = torch.rand(2, 3 * FRAMES, *size, generator=torch.Generator().manual_seed(seed))
    expected = _cpu_copy(model)(frames).numpy()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: frames.numpy()})[0]
    return float(np.abs(got - expected).max())


def export_onnx(model: DBN, path: Path, metadata: dict | None = None, *, fp16_weights: bool = False,
                tolerance: float | None = None, check_size: tuple[int, int] = (64, 96),
                align: str | None = None) -> dict:
    """Write ``path`` and its sidecar after checking ONNX Runtime against PyTorch; returns the sidecar.

    Raises ValueError, writing nothing, when the max abs error exceeds ``tolerance`` (default 1e-4,
    2e-3 with ``fp16_weights``). ``metadata`` (provenance, ``placeholder``) is merged into the sidecar;
    ``align`` is the ``vs_dvd.align`` method the model was trained with (the runtime then aligns too).
    """
    check_method(align)
    if any(s % MULTIPLE for s in check_size):
        raise ValueError(f"check size {check_size[0]}x{check_size[1]}: height and width must be multiples "
                         f"of {MULTIPLE}")
    limit = TOLERANCE[fp16_weights] if tolerance is None else tolerance
    data = onnx_bytes(model, fp16_weights=fp16_weights)
    error = parity_error(model, data, check_size)
    if not error <= limit:  # NaN fails too
        raise ValueError(f"{path}: ONNX Runtime differs from PyTorch by {error:.3g} (max abs), above the "
                         f"tolerance {limit:g}; nothing written. Check the model's weights for NaN or "
                         "huge values, or raise --tolerance if the difference is acceptable")
    extra = dict(metadata or {})
    sidecar = {
        "format": 1,
        "architecture": model.config.to_dict(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "frames": FRAMES,
        "multiple": MULTIPLE,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "align": align,
        "weights": "float16" if fp16_weights else "float32",
        "placeholder": bool(extra.pop("placeholder", False)),
        "parity_max_abs_error": error,
    }
    clash = sorted(set(extra) & set(sidecar))
    if clash:
        raise ValueError(f"metadata keys {clash} are computed by export_onnx; leave them out")
    sidecar.update(extra)
    atomic_write_bytes(path, data)
    atomic_write_bytes(sidecar_path(path), (json.dumps(sidecar, indent=2) + "\n").encode())
    return sidecar


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.export",
        description="Export a training checkpoint (or the mean of several) to ONNX plus the JSON sidecar vs_dvd "
                    "reads, after checking ONNX Runtime against PyTorch.")
    parser.add_argument("checkpoints", nargs="+", type=Path, metavar="CHECKPOINT",
                        help="a step-NNNNNNN folder, a training --out folder (its latest) or an exported .onnx; "
                             "several: export the mean of their weights (fine-tunings of one model)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--fp16-weights", action="store_true",
                        help="store weights as float16 behind Cast nodes: half the file, computed in float32")
    parser.add_argument("--tolerance", type=float, default=None,
                        help="max abs ONNX Runtime vs PyTorch error allowed (default 1e-4, 2e-3 with --fp16-weights)")
    parser.add_argument("--check-size", type=_size, default=(64, 96), metavar="HxW",
                        help="frame size of the parity check (default 64x96)")
    parser.add_argument("--description", metavar="TEXT",
                        help="a short provenance summary for the sidecar (what the model is, where its history is)")
    args = parser.parse_args(argv)
    try:
        model, checkpoints, training_args = checkpoint.average(args.checkpoints)
        provenance = ({"checkpoint": checkpoints[0].name, "training": training_args[0]} if len(checkpoints) == 1 else
                      {"checkpoint": [str(c) for c in checkpoints], "training": training_args,
                       "weights_averaged": True})
        if args.description:
            provenance["description"] = args.description
        sidecar = export_onnx(model, args.output, provenance, fp16_weights=args.fp16_weights,
                              tolerance=args.tolerance, check_size=args.check_size,
                              align=training_args[0].get("align"))
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"max abs error ONNX Runtime vs PyTorch: {sidecar['parity_max_abs_error']:.3g}")
    print(f"wrote {args.output} and {sidecar_path(args.output)} ({sidecar['weights']} weights, "
          f"sha256 {sidecar['sha256'][:12]})")


if __name__ == "__main__":
    main()
