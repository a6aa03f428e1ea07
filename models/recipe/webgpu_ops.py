"""Keep exported graphs' compute on ONNX Runtime's WebGPU execution provider (onnxruntime-node 1.30).

Three nodes of the head that graphs exported before this module had, each run by the CPU provider under WebGPU:

  LogSoftmax               no WebGPU kernel: the rows' logits (n x vocab floats) went to the host and the
                           log-probabilities back, every denoising step
  ConstantOfShape          no WebGPU kernel: the -1e9 fill of the mask token's logit, built as a full [b, n, vocab]
                           tensor on the host and uploaded every step (torch.full_like)
  Range -> Equal (int64)   the WebGPU EP has no int64 kernels: the [vocab] "is the mask token" row was computed on
                           the host and uploaded every step (torch.arange(V) == mask_id)

`model.py` now exports none of them (log_softmax written out, masked_fill with a scalar, a constant is_mask row), and
`export.py` checks each export with `assert_webgpu_ops`. `rewrite` does the same to graphs exported before that,
without retraining:

  - each LogSoftmax node becomes the subgraph torch exports for `model.log_softmax`, the stable form
        log_softmax(x) = (x - max(x)) - log(sum(exp(x - max(x))))
    (equal within float rounding: top-k ids identical, probabilities and entropy within ~1e-7);
  - Where(c, ConstantOfShape(Shape(t)), t) takes the fill value as a scalar (Where broadcasts: identical output);
  - Equal(Range(0, dim k of t, 1), m) with t's dim k static becomes a bool constant (identical).

    /usr/bin/python3 -m models.recipe.webgpu_ops models/default/model.onnx [more.onnx ...]   # rewrites in place

What stays on the CPU provider is int64 shape arithmetic (Shape, Gather of a shape, Unsqueeze, Concat, Div, Cast,
Reshape/Equal/Where of shape vectors) and the Expand of the `positions` input into GatherElements' index: the WebGPU
EP registers no int64 kernels, and ORT keeps shape computations on the host by design. None of them reads an
activation; test/unit/webgpu.test.ts checks the placement.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Ops our exporters have emitted that onnxruntime-node 1.30's WebGPU EP has no kernel for. ConstantOfShape only
# counts with a floating-point fill: an int64 one is shape arithmetic (torch's expand), which ORT keeps on the host.
NO_WEBGPU_KERNEL = frozenset({"LogSoftmax", "ConstantOfShape"})
_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)


def _opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _unique(taken: set[str], name: str) -> str:
    out, i = name, 1
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out


def decompose_log_softmax(model: onnx.ModelProto) -> int:
    """Replace every LogSoftmax node of the main graph in place; returns how many were replaced."""
    opset = _opset(model)
    graph = model.graph
    taken = {v for n in graph.node for v in list(n.input) + list(n.output)} | {n.name for n in graph.node}
    taken |= {t.name for t in graph.initializer} | {i.name for i in graph.input}
    nodes, replaced = [], 0
    for node in graph.node:
        if node.op_type != "LogSoftmax" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"),
                    -1 if opset >= 13 else 1)
        if opset < 13 and axis != -1:
            # Before opset 13 LogSoftmax flattened the input to 2-D at `axis`; only the last axis is the same op.
            raise ValueError(f"{node.name}: LogSoftmax axis {axis} at opset {opset} is not supported")
        base = node.name or "LogSoftmax"
        x, y = node.input[0], node.output[0]
        v = {k: _unique(taken, f"{base}/{k}_output_0") for k in ("ReduceMax", "Sub", "Exp", "ReduceSum", "Log")}
        axes = _unique(taken, f"{base}/axes")
        if opset >= 18:
            reduce_max = helper.make_node("ReduceMax", [x, axes], [v["ReduceMax"]], keepdims=1)
        else:
            reduce_max = helper.make_node("ReduceMax", [x], [v["ReduceMax"]], axes=[axis], keepdims=1)
        if opset >= 13:
            reduce_sum = helper.make_node("ReduceSum", [v["Exp"], axes], [v["ReduceSum"]], keepdims=1)
        else:
            reduce_sum = helper.make_node("ReduceSum", [v["Exp"]], [v["ReduceSum"]], axes=[axis], keepdims=1)
        new = [
            helper.make_node("Constant", [], [axes], value=numpy_helper.from_array(np.array([axis], np.int64))),
            reduce_max,
            helper.make_node("Sub", [x, v["ReduceMax"]], [v["Sub"]]),
            helper.make_node("Exp", [v["Sub"]], [v["Exp"]]),
            reduce_sum,
            helper.make_node("Log", [v["ReduceSum"]], [v["Log"]]),
            helper.make_node("Sub", [v["Sub"], v["Log"]], [y]),
        ]
        for n, suffix in zip(new, ("axes", "ReduceMax", "Sub", "Exp", "ReduceSum", "Log", "Sub_1")):
            n.name = _unique(taken, f"{base}/{suffix}")
        nodes.extend(new)
        replaced += 1
    if replaced:
        del graph.node[:]
        graph.node.extend(nodes)
    return replaced


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in graph.node for o in n.output}


def _constant(node: onnx.NodeProto | None) -> np.ndarray | None:
    if node is None or node.op_type != "Constant":
        return None
    return next((numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"), None)


def scalar_where_fill(model: onnx.ModelProto) -> int:
    """Where(c, ConstantOfShape(Shape(t)), t) -> Where(c, scalar, t) for a float fill (either branch); how many."""
    graph, done = model.graph, 0
    prod = _producers(graph)
    for node in graph.node:
        if node.op_type != "Where":
            continue
        for branch, other in ((1, 2), (2, 1)):
            fill = prod.get(node.input[branch])
            if fill is None or fill.op_type != "ConstantOfShape" or not _float_fill(fill):
                continue
            shape = prod.get(fill.input[0])
            if shape is None or shape.op_type != "Shape" or shape.input[0] != node.input[other] or shape.attribute:
                continue
            value = next((numpy_helper.to_array(a.t) for a in fill.attribute if a.name == "value"),
                         np.zeros(1, np.float32))
            name = f"{fill.output[0]}/scalar"
            const = helper.make_node("Constant", [], [name], name=f"{fill.name}/scalar",
                                     value=numpy_helper.from_array(value.reshape(())))
            graph.node.insert(list(graph.node).index(node), const)
            node.input[branch] = name
            done += 1
            break
    return done


def fold_vocab_mask(model: onnx.ModelProto) -> int:
    """Equal(Range(a, Cast?(Gather(Shape(t), k)), d), m), t's dim k static -> a bool Constant; returns how many."""
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    dims = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
            for v in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    prod, done = _producers(graph), 0
    for i, node in enumerate(list(graph.node)):
        if node.op_type != "Equal":
            continue
        rng, m = prod.get(node.input[0]), _constant(prod.get(node.input[1]))
        if rng is None or rng.op_type != "Range" or m is None or m.size != 1:
            continue
        start, delta, limit = _constant(prod.get(rng.input[0])), _constant(prod.get(rng.input[2])), \
            prod.get(rng.input[1])
        if limit is not None and limit.op_type == "Cast":
            limit = prod.get(limit.input[0])
        if start is None or delta is None or limit is None or limit.op_type != "Gather":
            continue
        shape, k = prod.get(limit.input[0]), _constant(prod.get(limit.input[1]))
        if shape is None or shape.op_type != "Shape" or shape.attribute or k is None or k.size != 1:
            continue
        t_dims = dims.get(shape.input[0]) or []
        k = int(k.reshape(()))
        if not -len(t_dims) <= k < len(t_dims) or t_dims[k] is None:
            continue
        row = np.arange(start.reshape(()), t_dims[k], delta.reshape(())) == m.reshape(())
        const = helper.make_node("Constant", [], [node.output[0]], name=f"{node.name}/folded",
                                 value=numpy_helper.from_array(row))
        graph.node.insert(list(graph.node).index(node), const)
        graph.node.remove(node)
        done += 1
    return done


def remove_dead_nodes(model: onnx.ModelProto) -> int:
    graph, removed = model.graph, 0
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return removed
        for n in dead:
            graph.node.remove(n)
        removed += len(dead)


def rewrite(model: onnx.ModelProto) -> dict[str, int]:
    """All three rewrites, in place; the counts of each (all 0 for a graph exported by the current recipe)."""
    counts = {"LogSoftmax": decompose_log_softmax(model), "ConstantOfShape": scalar_where_fill(model),
              "Range/Equal": fold_vocab_mask(model)}
    if any(counts.values()):
        remove_dead_nodes(model)
    return counts


def _float_fill(node: onnx.NodeProto) -> bool:
    value = next((a.t for a in node.attribute if a.name == "value"), None)
    return value is None or value.data_type in _FLOAT_TYPES  # no value: a float32 zero


def missing_webgpu_ops(model: onnx.ModelProto) -> list[str]:
    """The main graph's nodes that the WebGPU EP would hand to the CPU provider (NO_WEBGPU_KERNEL), as "Op (name)"."""
    return [f"{n.op_type} ({n.name})" for n in model.graph.node if n.op_type in NO_WEBGPU_KERNEL
            and (n.op_type != "ConstantOfShape" or _float_fill(n))]


def assert_webgpu_ops(path: Path) -> None:
    """Raise if the ONNX file at `path` has a node the WebGPU EP would have to hand to the CPU provider."""
    missing = missing_webgpu_ops(onnx.load(str(path), load_external_data=False))
    if missing:
        raise RuntimeError(f"{path}: no WebGPU kernel for {', '.join(missing)} (see models/recipe/webgpu_ops.py)")


def rewrite_file(path: Path) -> dict[str, int]:
    model = onnx.load(str(path))
    counts = rewrite(model)
    if any(counts.values()):
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx", nargs="+", type=Path, help="model files to rewrite in place")
    args = ap.parse_args()
    for path in args.onnx:
        counts = rewrite_file(path)
        assert_webgpu_ops(path)
        print(f"{path}: rewritten {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
