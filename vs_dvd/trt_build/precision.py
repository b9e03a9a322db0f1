"""Lower an fp32 DBN graph to fp16 or bf16 for a strongly typed TensorRT build.

Strongly typed networks (TensorRT-RTX, TensorRT 11, and TensorRT 10 with the flag) run each layer
in the type the ONNX graph gives it, so the precision is decided here, in the graph:

- the convolution trunk (Conv, ConvTranspose, Relu, the skip Adds) gets low-precision weights and
  activations;
- everything that reads the centre frame, directly or not (the residual Add onto it, Clip or
  Sigmoid, and a gated model's gate, all but the Laplacian of its sharpness measure, which reads the
  input frames as the trunk does), and every other op (the centre-frame Slice) stays fp32, so the
  centre frame never passes through fp16 and the untrained identity placeholder stays bit-exact;
- the graph's input and output stay float32: callers cannot tell.

Weights stored as fp16 behind Cast nodes (``training/export.py --fp16-weights``) feed the trunk
directly, without a round trip through fp32.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference, version_converter

PRECISIONS = ("fp16", "fp32", "bf16")
LOW_TYPES = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
CONVOLUTIONS = ("Conv", "ConvTranspose")
TRUNK_OPS = (*CONVOLUTIONS, "Relu", "Add")
# TensorRT-RTX 1.7 has no bf16 deconvolution; Conv accepts bf16 from opset 22 (IR version 10) on.
FP32_IN_BF16 = ("ConvTranspose",)
BF16_OPSET, BF16_IR_VERSION = 22, 10


def _nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Detached copies of the graph's nodes, in its (topological) order: indices into this list are
    stable, which protobuf's own node wrappers are not."""
    copies = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copies.append(copy)
    return copies


def _consumers(nodes: list[onnx.NodeProto]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        for name in node.input:
            found.setdefault(name, []).append(index)
    return found


def _reading_the_centre(nodes: list[onnx.NodeProto], inputs: set[str]) -> set[int]:
    """Indices of the nodes that read, directly or not, a Slice of the graph input (the centre frame)."""
    consumers = _consumers(nodes)
    found: set[int] = set()
    pending = [o for n in nodes if n.op_type == "Slice" and n.input[0] in inputs for o in n.output]
    while pending:
        for index in consumers.get(pending.pop(), []):
            if index not in found:
                found.add(index)
                pending.extend(nodes[index].output)
    return found


def _low_nodes(nodes: list[onnx.NodeProto], inputs: set[str], precision: str) -> set[int]:
    """Indices of the trunk nodes that compute in ``precision``: trunk ops that do not read the centre frame."""
    if precision not in LOW_TYPES:
        return set()
    head = _reading_the_centre(nodes, inputs)
    kept_fp32 = FP32_IN_BF16 if precision == "bf16" else ()
    return {i for i, n in enumerate(nodes) if n.op_type in TRUNK_OPS and n.op_type not in kept_fp32 and i not in head}


def pinned_nodes(model: onnx.ModelProto, precision: str = "fp16") -> list[onnx.NodeProto]:
    """The computing nodes that stay fp32 when ``model`` is lowered (not Constants or weight Casts)."""
    nodes = _nodes(model.graph)
    weights = {i.name for i in model.graph.initializer}
    low = _low_nodes(nodes, {i.name for i in model.graph.input}, precision)
    return [n for i, n in enumerate(nodes) if i not in low and n.op_type != "Constant"
            and not (n.op_type == "Cast" and n.input[0] in weights)]


def _bf16_tensor(values: np.ndarray, name: str) -> TensorProto:
    """float32 -> bfloat16, rounded to nearest even, NaN kept NaN (ml_dtypes: numpy has no bfloat16)."""
    import ml_dtypes

    rounded = np.ascontiguousarray(values, np.float32).astype(ml_dtypes.bfloat16).view("<u2")
    return helper.make_tensor(name, TensorProto.BFLOAT16, values.shape, rounded.tobytes(), raw=True)


def _convert(initializer: TensorProto, to: int, name: str) -> TensorProto:
    """``initializer`` (float32 or float16) as type ``to``, named ``name``."""
    values = numpy_helper.to_array(initializer).astype(np.float32)
    if to == TensorProto.BFLOAT16:
        return _bf16_tensor(values, name)
    return numpy_helper.from_array(values.astype(np.float16), name)


def _opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _remove_unused(graph: onnx.GraphProto) -> None:
    """Drop the nodes and initializers nothing reads any more (the weight Casts lowering bypassed)."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def _restore_weight_names(graph: onnx.GraphProto, precision: str) -> None:
    """``F0.conv.weight/fp16`` -> ``F0.conv.weight`` where the original is gone: TensorRT names layers'
    weights after them, and the export contract names them ``<Layer>.conv.weight``."""
    taken = {i.name for i in graph.initializer} | {i.name for i in graph.input}
    renamed = {}
    for init in graph.initializer:
        original = init.name.removesuffix(f"/{precision}")
        if original != init.name and original not in taken:
            renamed[init.name] = original
            init.name = original
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]


def lower_precision(model: onnx.ModelProto, precision: str) -> onnx.ModelProto:
    """A copy of ``model`` whose convolution trunk computes in ``precision`` (fp32: unchanged)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {PRECISIONS}")
    lowered = onnx.ModelProto()
    lowered.CopyFrom(model)
    if precision == "fp32":
        return lowered
    if precision == "bf16":  # ops whose form changed on the way (ReduceMean's axes) are rewritten too
        lowered = version_converter.convert_version(lowered, max(BF16_OPSET, _opset(lowered)))
    graph, to = lowered.graph, LOW_TYPES[precision]
    nodes = _nodes(graph)
    low = _low_nodes(nodes, {i.name for i in graph.input}, precision)
    initializers = {i.name: i for i in graph.initializer}
    producers = {o: n for n in nodes for o in n.output}
    consumers = _consumers(nodes)
    low_outputs = {o for i in low for o in nodes[i].output}
    twins: dict[str, str] = {}  # fp32 tensor -> its low-precision twin
    casts: list[onnx.NodeProto] = []

    def twin(name: str) -> str:
        """A low-precision tensor with the value of ``name``, made once."""
        if name in low_outputs or name == "":
            return name
        if name not in twins:
            source = producers.get(name)
            if source is not None and source.op_type == "Cast" and source.input[0] in initializers:
                weights = initializers[source.input[0]]  # fp16 weights behind a Cast: use them directly
            else:
                weights = initializers.get(name)
            if weights is None:
                twins[name] = f"{name}/{precision}"
                casts.append(helper.make_node("Cast", [name], [twins[name]], to=to, name=f"{name}/cast_{precision}"))
            elif weights.data_type == to:
                twins[name] = weights.name
            else:
                converted = _convert(weights, to, f"{weights.name}/{precision}")
                graph.initializer.append(converted)
                twins[name] = converted.name
        return twins[name]

    outputs = {o.name for o in graph.output}
    for index in sorted(low):  # producers before consumers
        node = nodes[index]
        node.input[:] = [twin(name) for name in node.input]
        for k, name in enumerate(node.output):
            readers = consumers.get(name, [])
            if name in outputs or any(r not in low for r in readers):  # leaves the trunk: cast back
                node.output[k] = f"{name}/{precision}"
                low_outputs.add(node.output[k])
                for r in readers:
                    if r in low:
                        nodes[r].input[:] = [node.output[k] if x == name else x for x in nodes[r].input]
                casts.append(helper.make_node("Cast", [node.output[k]], [name], to=TensorProto.FLOAT,
                                              name=f"{name}/cast_fp32"))
    # Each new Cast goes right after the node (or graph input) it reads, which keeps the order topological.
    after: dict[str, list[onnx.NodeProto]] = {}
    for cast in casts:
        after.setdefault(cast.input[0], []).append(cast)
    ordered = [c for i in graph.input for c in after.pop(i.name, [])]
    for node in nodes:
        ordered.append(node)
        ordered.extend(c for name in node.output for c in after.pop(name, []))
    del graph.node[:]
    graph.node.extend(ordered)
    _remove_unused(graph)
    _restore_weight_names(graph, precision)
    del graph.value_info[:]  # types recorded before the rewrite (the version converter records them)
    if precision == "bf16":
        lowered.ir_version = max(lowered.ir_version, BF16_IR_VERSION)
    onnx.checker.check_model(lowered, full_check=True)
    return lowered


def _widened(tensor: TensorProto) -> TensorProto:
    """An fp16 or bf16 tensor as float32 (exact)."""
    return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float32), tensor.name)


def emulated_in_fp32(lowered: onnx.ModelProto) -> onnx.ModelProto:
    """A lowered graph's fp32 twin that rounds every fp16 or bf16 tensor to its type, for ONNX Runtime's CPU.

    That CPU has no fp16 or bf16 kernels for most of DBN's ops: it runs a lowered graph's trunk in fp32
    (fp16) or refuses it (bf16), so the lowered graph itself would show almost nothing of what lowering
    costs. Here each low-precision weight is widened exactly and each low-precision result passes through
    a Cast to its type and back: low-precision storage, fp32 arithmetic (tensor cores with fp32
    accumulation; an engine may also accumulate in low precision, which only the engine check shows).
    """
    twin = onnx.ModelProto()
    twin.CopyFrom(lowered)
    graph, low = twin.graph, set(LOW_TYPES.values())
    typed = shape_inference.infer_shapes(lowered).graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*typed.value_info, *typed.output)}
    for init in graph.initializer:
        if init.data_type in low:
            init.CopyFrom(_widened(init))
    nodes = []
    for node in _nodes(graph):
        for attribute in node.attribute:
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i in low:
                attribute.i = TensorProto.FLOAT
            elif attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type in low:
                attribute.t.CopyFrom(_widened(attribute.t))
        nodes.append(node)
        for k, name in enumerate(node.output):
            if types.get(name) in low:
                node.output[k] = f"{name}/wide"
                nodes += [helper.make_node("Cast", [f"{name}/wide"], [f"{name}/rounded"], to=types[name]),
                          helper.make_node("Cast", [f"{name}/rounded"], [name], to=TensorProto.FLOAT)]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # the low-precision types recorded there are float32 now
    onnx.checker.check_model(twin, full_check=True)
    return twin
