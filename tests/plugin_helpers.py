"""Shared by the vs_dvd tests, and importable from the .vpy scripts they hand to vspipe:
tiny real DBN models, moving test clips, and a direct ONNX Runtime run to compare against."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import vapoursynth as vs

TESTS = Path(__file__).resolve().parent


def dbn_onnx(path: Path, *, width: int = 4, head: str = "residual", seed: int = 0,
             trained: bool = True, align: str | None = None, gate: bool = False) -> Path:
    """A width-``width`` DBN exported with its sidecar (naming ``align``). ``trained``: random weights
    and BatchNorm statistics, so the output is far from the input; otherwise the untrained residual
    DBN, which is exactly the identity on the centre frame. ``gate``: with a gate, random when
    ``trained`` (half shut, varying from pixel to pixel)."""
    import torch

    from training.export import export_onnx
    from vs_dvd.network import DBN, DBNConfig

    torch.manual_seed(seed)
    model = DBN(DBNConfig(width=width, head=head, gate=gate))
    if trained:
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.05, 0.05)
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
        if gate:
            torch.nn.init.normal_(model.gate.G5.conv.weight, std=3.0)
            torch.nn.init.zeros_(model.gate.G5.conv.bias)
    export_onnx(model, path, {"placeholder": False}, align=align)
    return path


def conv_onnx(path: Path, stride: int = 1) -> Path:
    """A one-convolution model with the plugin's input and output (the mean of the 15 input planes
    per output channel, no sidecar): far cheaper than any DBN. ``stride`` 2 halves the frame, which
    its declared (symbolic) output shape does not show."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.full((3, 15, 1, 1), 1 / 15, np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["frames", "w"], ["sharp"], strides=[stride, stride])], "conv",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["N", 15, "H", "W"])],
        [helper.make_tensor_value_info("sharp", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [numpy_helper.from_array(weight, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def ort_only_onnx(path: Path) -> Path:
    """The centre frame times the inverse of the 1 x 1 matrix [1] (ONNX Runtime's contrib operator
    com.microsoft.Inverse, which OpenVINO cannot convert): a model only the cpu backend runs."""
    import onnx
    from onnx import TensorProto, helper

    ints = [helper.make_tensor(name, TensorProto.INT64, [1], [value]) for name, value in (("s", 6), ("e", 9), ("a", 1))]
    graph = helper.make_graph(
        [helper.make_node("Slice", ["frames", "s", "e", "a"], ["centre"]),
         helper.make_node("Inverse", ["one"], ["still_one"], domain="com.microsoft"),
         helper.make_node("Mul", ["centre", "still_one"], ["sharp"])], "ort_only",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["N", 15, "H", "W"])],
        [helper.make_tensor_value_info("sharp", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [*ints, helper.make_tensor("one", TensorProto.FLOAT, [1, 1], [1.0])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                      helper.make_opsetid("com.microsoft", 1)]), path)
    return path


def picker_onnx(path: Path, index: int = 0, align: str | None = None) -> Path:
    """A model that returns frame ``index`` of its five (a Slice), with a sidecar naming ``align``:
    its output shows exactly which pixels a model is fed."""
    import hashlib
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    bounds = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("starts", [3 * index]), ("ends", [3 * index + 3]), ("axes", [1]))]
    graph = helper.make_graph(
        [helper.make_node("Slice", ["frames", "starts", "ends", "axes"], ["sharp"])], "picker",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["N", 15, "H", "W"])],
        [helper.make_tensor_value_info("sharp", TensorProto.FLOAT, ["N", 3, "H", "W"])], bounds)
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    path.write_bytes(data)
    sidecar = {"format": 1, "sha256": hashlib.sha256(data).hexdigest(), "frames": 5, "multiple": 8,
               "input": "frames", "output": "sharp", "align": align}
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


def pattern(n: int, height: int, width: int) -> np.ndarray:
    """Frame n of a smooth colour pattern that moves a few pixels per frame, 3 x H x W in [0.1, 0.9]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.sin((x + 3 * n) * 0.21) * np.cos(y * 0.17)
    g = np.sin((x + y) * 0.11 + n * 0.7)
    b = np.cos((y - 2 * n) * 0.23 + x * 0.05)
    return (0.5 + 0.4 * np.stack([r, g, b])).astype(np.float32)


def array_clip(frame_at: Callable[[int], np.ndarray], width: int, height: int, length: int) -> vs.VideoNode:
    """An RGBS clip whose frame n is ``frame_at(n)`` (3 x H x W float32)."""
    blank = vs.core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=length)

    def paint(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p, plane in enumerate(frame_at(n)):
            np.asarray(out[p])[...] = plane
        return out

    return blank.std.ModifyFrame(blank, paint)


def moving_clip(width: int = 64, height: int = 48, length: int = 10,
                format: int = vs.RGBS) -> vs.VideoNode:
    """``pattern`` as a clip of ``format`` (YUV is BT.709, limited range; GRAY takes the green plane)."""
    clip = array_clip(lambda n: pattern(n, height, width), width, height, length)
    family = vs.core.get_video_format(format).color_family
    if family == vs.GRAY:
        clip = clip.std.ShufflePlanes(1, vs.GRAY)
    if family == vs.YUV:
        return clip.resize.Bicubic(format=format, matrix=1, range=0)
    return clip.resize.Bicubic(format=format)


def planes(frame: vs.VideoFrame) -> np.ndarray:
    """All planes of a frame as one float64 array (planes x H x W; subsampled planes are flattened)."""
    arrays = [np.asarray(frame[p], dtype=np.float64) for p in range(frame.format.num_planes)]
    if len({a.shape for a in arrays}) == 1:
        return np.stack(arrays)
    return np.concatenate([a.ravel() for a in arrays])


def run_onnx(path: Path, frames: list[np.ndarray]) -> np.ndarray:
    """The model on five 3 x H x W frames, straight through ONNX Runtime: the reference output."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.concatenate(frames)[None].astype(np.float32)
    return session.run(None, {session.get_inputs()[0].name: batch})[0][0]


def assert_same_picture(frame: vs.VideoFrame, reference: vs.VideoFrame) -> None:
    """Equal up to a format round trip: 1.5 steps of the sample format, 1% for subsampled chroma
    (bicubic down- and upsampling is close to, not exactly, the identity)."""
    fmt = reference.format
    assert frame.format.id == fmt.id and (frame.width, frame.height) == (reference.width, reference.height)
    peak = 2 ** fmt.bits_per_sample - 1 if fmt.sample_type == vs.INTEGER else 1
    for p in range(fmt.num_planes):
        error = np.abs(np.asarray(frame[p], np.float64) - np.asarray(reference[p], np.float64)).max()
        subsampled_chroma = p > 0 and fmt.subsampling_w + fmt.subsampling_h > 0
        limit = 0.01 if subsampled_chroma else max(1.5 / peak, 1e-3) if peak > 1 else 1e-3
        assert error / peak <= limit, f"plane {p}: error {error / peak:.5f} > {limit:.5f}"
