"""Traces the heads to ONNX with the weights as graph inputs, then streams the checkpoint's tensors in.

Why not `torch.onnx.export` with the real parameters: a 7B model would need the whole fp32 model in memory
(30 GB) plus the exporter's copy. Instead the graph is traced with zero-stride placeholder weights (no memory;
see `_placeholders_not_cloned` and modeling.shape_only_matmuls for the two places PyTorch would otherwise
materialise them), each weight becomes a named graph input, and `WeightStore` turns those inputs into
initializers one tensor at a time, read straight from the safetensors shards:
  - inline in the .onnx file when the model is small, or in one external-data file (`model.onnx.data`,
    4 KiB aligned) when the weights exceed 2 GB (protobuf's limit); both graphs of a model share it;
  - a weight whose only consumers are `Transpose(perm=[1, 0])` is stored transposed and the Transpose
    dropped (the MatMul reads it directly, no transposed copy at session start);
  - `fp16`: weights stored as float16 behind one `Cast(to=float)` each, so all compute stays float32 and
    runs on ONNX Runtime's CPU provider (whose Range kernel, for one, rejects fp16); ORT constant-folds the
    casts when the session is created;
  - `fp16_compute`: the graph's matmuls are float16 (modeling._CastMarker) and read the float16 weights
    directly; RMSNorm, residuals, softmaxes and the head's statistics stay float32. For the CUDA provider.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from . import quantize
from .modeling import ArchConfig, DiffusionLM, FullLogits, PositionsTopK, shape_only_matmuls

OPSET = 17
TWO_GB = 2 * 1024**3
ALIGN = 4096


class _WeightsAsInputs(torch.nn.Module):
    """Wraps a head so that its parameters are forward() arguments (graph inputs named after them)."""

    def __init__(self, head: torch.nn.Module, names: List[str], n_data_inputs: int):
        super().__init__()
        self.head = head
        self.names = names
        self.n_data = n_data_inputs
        for full in names:
            owner, leaf = self._owner(full)
            del owner._parameters[leaf]
            setattr(owner, leaf, None)

    def _owner(self, full: str):
        *path, leaf = full.split(".")
        m = self.head
        for p in path:
            m = getattr(m, p)
        return m, leaf

    def forward(self, *args):
        data, weights = args[: self.n_data], args[self.n_data :]
        for full, w in zip(self.names, weights):
            owner, leaf = self._owner(full)
            setattr(owner, leaf, w)
        return self.head(*data)


class _placeholders_not_cloned:
    """The tracer behind torch.onnx.export (torch.jit._trace.ONNXTracedModule) clones every example input,
    only to warn later if the model mutated one. Our inputs include every weight as a zero-stride placeholder,
    and the clone would materialise them all (30 GB for a 7B model). The placeholders are never mutated, so
    while tracing their clone is themselves; every other tensor clones normally."""

    def __init__(self, placeholders):
        self.ids = {id(p) for p in placeholders}

    def __enter__(self):
        self.saved = torch.Tensor.clone
        saved, ids = self.saved, self.ids

        def clone(t, *args, **kwargs):
            return t if id(t) in ids else saved(t, *args, **kwargs)

        torch.Tensor.clone = clone  # type: ignore[assignment]
        return self

    def __exit__(self, *exc):
        torch.Tensor.clone = self.saved  # type: ignore[assignment]
        return False


class _uninitialized_parameters:
    """nn.Linear / nn.Embedding allocate with torch.empty but skip their random init: for a 7B model the init
    alone takes minutes and commits 30 GB; untouched empty memory costs nothing."""

    def __enter__(self):
        self.saved = (torch.nn.Linear.reset_parameters, torch.nn.Embedding.reset_parameters)
        torch.nn.Linear.reset_parameters = lambda self: None  # type: ignore[assignment]
        torch.nn.Embedding.reset_parameters = lambda self: None  # type: ignore[assignment]
        return self

    def __exit__(self, *exc):
        torch.nn.Linear.reset_parameters, torch.nn.Embedding.reset_parameters = self.saved
        return False


def trace_head(
    arch: ArchConfig,
    kind: str,
    mask_id: int,
    top_k: int,
    path: str,
    trace_length: int = 8,
    fp16_compute: bool = False,
) -> List[str]:
    """Exports the `kind` head ('positions_topk' or 'full_logits') with weights as inputs; returns their names."""
    with _uninitialized_parameters():  # the parameters are dropped below: never initialise (or touch) them
        lm = DiffusionLM(arch).eval()
    lm.set_fp16_compute(fp16_compute)
    shapes = {n: tuple(p.shape) for n, p in lm.named_parameters()}
    if kind == "positions_topk":
        head: torch.nn.Module = PositionsTopK(lm, mask_id, min(top_k, arch.vocab_size))
        data = (
            torch.randint(0, arch.vocab_size, (1, trace_length), dtype=torch.int64),
            torch.tensor([[1, trace_length - 1]], dtype=torch.int64),
        )
        input_names = ["input_ids", "positions"]
        output_names = ["topk_ids", "topk_probs", "entropy"]
        dynamic = {
            "input_ids": {0: "batch", 1: "length"},
            "positions": {0: "batch", 1: "n"},
            "topk_ids": {0: "batch", 1: "n"},
            "topk_probs": {0: "batch", 1: "n"},
            "entropy": {0: "batch", 1: "n"},
        }
    elif kind == "full_logits":
        head = FullLogits(lm, mask_id)
        data = (torch.randint(0, arch.vocab_size, (1, trace_length), dtype=torch.int64),)
        input_names = ["input_ids"]
        output_names = ["logits"]
        dynamic = {"input_ids": {0: "batch", 1: "length"}, "logits": {0: "batch", 1: "length"}}
    else:
        raise ValueError(kind)
    names = ["lm." + n for n in shapes]
    wrapper = _WeightsAsInputs(head, names, len(data))
    del lm  # the real parameters are gone from the module now; free them
    # Zero-stride placeholders: full shape, one float of memory each.
    placeholders = tuple(torch.zeros(()).expand(shapes[n[3:]]) for n in names)
    with torch.no_grad(), warnings.catch_warnings(), _placeholders_not_cloned(placeholders), shape_only_matmuls():
        warnings.simplefilter("ignore")  # tracer chatter about Python ints and the custom Cast marker
        torch.onnx.export(
            wrapper,
            data + placeholders,
            path,
            input_names=input_names + [n[3:] for n in names],
            output_names=output_names,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    return [n[3:] for n in names]


def strip_weight_half_casts(model: onnx.ModelProto, weights: Sequence[str]) -> set:
    """--fp16-compute: a weight whose consumers are all `Cast(to=float16)` is stored as float16 and read directly.

    Also drops value_info: the tracer annotated the float16 region as float32 (the markers are identities in
    PyTorch); ONNX Runtime infers the types itself."""
    graph = model.graph
    consumers: Dict[str, List[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    direct = set()
    rename: Dict[str, str] = {}
    drop = set()
    for w in weights:
        nodes = consumers.get(w, [])
        if nodes and all(
            n.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.FLOAT16 for a in n.attribute) for n in nodes
        ):
            direct.add(w)
            for n in nodes:
                rename[n.output[0]] = w
                drop.add(id(n))
    kept = [n for n in graph.node if id(n) not in drop]
    for node in kept:
        for j, name in enumerate(node.input):
            if name in rename:
                node.input[j] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.value_info[:]
    return direct


class WeightStore:
    """Decides each weight's stored layout once, and writes the external-data file once for all graphs.

    `quant` ('int8' / 'int4', see quantize.py): every weight read only through `Transpose -> MatMul` (the linear
    layers, not the embedding / LM head) is stored quantised and its MatMul replaced; the rest is float16."""

    def __init__(
        self,
        load: Callable[[str], np.ndarray],
        names: Sequence[str],
        fp16: bool,
        external: bool,
        out_dir: str,
        data_file: str,
        log: Callable[[str], None] = print,
        quant: Optional[str] = None,
        progress: Optional[Callable[[int, int, int], None]] = None,
    ):
        self.load = load
        self.names = list(names)
        self.fp16 = fp16 or quant is not None
        self.quant = quant
        self.external = external
        self.out_dir = out_dir
        self.data_file = data_file
        self.log = log
        self.progress = progress
        self.transposed: Dict[str, bool] = {}
        self.quantized: set = set()
        self.k_of: Dict[str, int] = {}  # K of each quantised weight (int4 pads K to whole blocks)
        self.locations: Dict[str, Tuple[int, int, Tuple[int, ...], int]] = {}
        self.inline: Dict[str, np.ndarray] = {}
        self.bytes_total = 0
        self.direct_half: set = set()  # float16 weights read by float16 ops (no Cast)

    def decide_layout(self, graphs: Sequence[onnx.ModelProto]) -> None:
        for name in self.names:
            all_transpose = True
            matmul_only = True
            used = False
            for model in graphs:
                consumers: Dict[str, List[onnx.NodeProto]] = {}
                for node in model.graph.node:
                    for i in node.input:
                        consumers.setdefault(i, []).append(node)
                for node in consumers.get(name, []):
                    used = True
                    perm = [list(a.ints) for a in node.attribute if a.name == "perm"]
                    if node.op_type != "Transpose" or perm != [[1, 0]]:
                        all_transpose = False
                        continue
                    after = consumers.get(node.output[0], [])
                    if not after or any(n.op_type != "MatMul" or list(n.input).index(node.output[0]) != 1 for n in after):
                        matmul_only = False
            self.transposed[name] = used and all_transpose
            if self.quant and self.transposed[name] and matmul_only and name != "lm_head.weight":
                self.quantized.add(name)

    def _arrays(self, name: str) -> List[Tuple[str, np.ndarray]]:
        """(stored name, array) of each initializer holding weight `name`."""
        if name in self.quantized:
            w = self.load(name)  # [N, K]: MatMulNBits wants the nn.Linear layout; quantize_int8 transposes
            self.k_of[name] = int(w.shape[1])
            pair = quantize.quantize_int4(w) if self.quant == "int4" else quantize.quantize_int8(w)
            return list(zip(quantize.stored_names(name, self.quant), pair))  # type: ignore[arg-type]
        # torch for the transpose + cast: multi-threaded and cache-blocked (numpy's strided copy of a
        # transposed 18944 x 3584 matrix is several times slower)
        t = torch.from_numpy(self.load(name))
        if self.transposed[name]:
            t = t.t()
        direct = name in self.direct_half
        half = self.fp16 or direct
        stored = name + "__fp16" if self.fp16 and not direct else name
        return [(stored, t.to(torch.float16 if half else torch.float32).contiguous().numpy())]

    def write(self) -> None:
        total = len(self.names)
        path = os.path.join(self.out_dir, self.data_file)
        f = open(path, "wb") if self.external else None
        offset = 0
        try:
            for i, name in enumerate(self.names):
                for stored, arr in self._arrays(name):
                    self.bytes_total += arr.nbytes
                    if f is None:
                        self.inline[stored] = arr
                        continue
                    pad = (-offset) % ALIGN
                    if pad:
                        f.write(b"\0" * pad)
                        offset += pad
                    raw = arr.tobytes()
                    f.write(raw)
                    self.locations[stored] = (offset, len(raw), tuple(arr.shape), _onnx_type(arr))
                    offset += len(raw)
                if self.progress is not None:
                    self.progress(i + 1, total, self.bytes_total)
                if f is not None and ((i + 1) % 20 == 0 or i + 1 == total):
                    self.log(f"  wrote {i + 1}/{total} tensors ({offset / 1e9:.2f} GB)")
        finally:
            if f is not None:
                f.close()

    def _initializer(self, stored: str, last: bool) -> TensorProto:
        if self.external:
            offset, length, shape, data_type = self.locations[stored]
            t = TensorProto()
            t.name = stored
            t.data_type = data_type
            t.dims.extend(shape)
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", self.data_file), ("offset", str(offset)), ("length", str(length))):
                entry = t.external_data.add()
                entry.key, entry.value = k, v
            return t
        t = numpy_helper.from_array(self.inline[stored], stored)
        if last:
            del self.inline[stored]  # the proto holds its own copy
        return t

    def attach(self, model: onnx.ModelProto, last: bool = False) -> onnx.ModelProto:
        graph = model.graph
        weight_set = set(self.names)
        present = {i.name for i in graph.input}
        # 1. drop the Transpose nodes of pre-transposed (or quantised) weights and rewire their consumers
        rename: Dict[str, str] = {}
        keep_nodes = []
        for node in graph.node:
            if node.op_type == "Transpose" and len(node.input) == 1 and self.transposed.get(node.input[0]):
                rename[node.output[0]] = node.input[0]
                continue
            keep_nodes.append(node)
        rewritten = []
        for j, node in enumerate(keep_nodes):
            for i, name in enumerate(node.input):
                if name in rename:
                    node.input[i] = rename[name]
            if node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in self.quantized:
                w = node.input[1]
                n, k = self._shape(w)
                rewritten.extend(quantize.matmul_nodes(self.quant, node.input[0], w, node.output[0], k, n, f"q{j}"))  # type: ignore[arg-type]
            else:
                rewritten.append(node)
        # 2. weights: initializers (fp16 ones behind a Cast), no longer graph inputs
        initializers: List[TensorProto] = []
        casts: List[onnx.NodeProto] = []
        for name in self.names:
            if name not in present:
                continue
            if name in self.quantized:
                initializers.extend(self._initializer(s, last) for s in quantize.stored_names(name, self.quant))  # type: ignore[arg-type]
                continue
            direct = name in self.direct_half
            stored = name + "__fp16" if self.fp16 and not direct else name
            initializers.append(self._initializer(stored, last))
            if self.fp16 and not direct:
                casts.append(helper.make_node("Cast", [stored], [name], to=TensorProto.FLOAT, name=f"cast_{name}"))
        del graph.node[:]
        graph.node.extend(casts + rewritten)
        inputs = [i for i in graph.input if i.name not in weight_set]
        del graph.input[:]
        graph.input.extend(inputs)
        graph.initializer.extend(initializers)
        if self.quant == "int4" and not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        if self.quant:
            del graph.value_info[:]  # the rewritten region's intermediate names changed; ORT infers the types
        return model

    def _shape(self, name: str) -> Tuple[int, int]:
        """(N, K) of quantised weight `name` from its stored arrays."""
        q, s = quantize.stored_names(name, self.quant)  # type: ignore[arg-type]
        shape = self.locations[q][2] if self.external else self.inline[q].shape
        if self.quant == "int4":
            n = shape[0]
            scales = self.locations[s][2] if self.external else self.inline[s].shape
            k = self.k_of[name]
            assert scales[0] == n * shape[1]
            return n, k
        return shape[1], shape[0]


def _onnx_type(arr: np.ndarray) -> int:
    return {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float16): TensorProto.FLOAT16,
            np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8}[arr.dtype]  # fmt: skip


def export_graphs(
    arch: ArchConfig,
    load: Callable[[str], np.ndarray],
    out_dir: str,
    mask_id: int,
    top_k: int,
    fp16: bool,
    full_logits: bool,
    external: Optional[bool],
    graph_name: str = "model.onnx",
    full_name: str = "model_full_logits.onnx",
    log: Callable[[str], None] = print,
    fp16_compute: bool = False,
    quant: Optional[str] = None,
    progress: Optional[Callable[[int, int, int], None]] = None,
) -> Dict[str, object]:
    """Writes the positions graph (and optionally the full-logits graph) into `out_dir`.

    `quant` 'int8' / 'int4' quantises the linear layers (quantize.py); `progress(done, total, bytes)` is called after
    each checkpoint tensor is written."""
    if quant not in (None, "int8", "int4"):
        raise ValueError(quant)
    if quant and fp16_compute:
        raise ValueError("quantised weights run float32 compute; --fp16-compute does not apply")
    kinds = [("positions_topk", graph_name)] + ([("full_logits", full_name)] if full_logits else [])
    traced: List[Tuple[str, onnx.ModelProto]] = []
    names: List[str] = []
    for kind, fname in kinds:
        tmp = os.path.join(out_dir, f".trace-{kind}.onnx")
        log(f"tracing {kind} graph ...")
        names = trace_head(arch, kind, mask_id, top_k, tmp, fp16_compute=fp16_compute)
        traced.append((fname, onnx.load(tmp)))
        os.remove(tmp)
    direct_sets = [strip_weight_half_casts(m, names) for _, m in traced]
    if any(d != direct_sets[0] for d in direct_sets):
        raise RuntimeError("the graphs disagree on which weights are float16")
    fp16 = fp16 or fp16_compute
    bytes_needed = arch.parameter_count() * (1 if quant else 2 if fp16 else 4)
    if external is None:
        external = bytes_needed > TWO_GB - 64 * 1024**2
    data_file = graph_name + ".data"
    store = WeightStore(load, names, fp16, external, out_dir, data_file, log, quant=quant, progress=progress)
    store.direct_half = direct_sets[0]
    store.decide_layout([m for _, m in traced])
    log(f"writing weights ({quant or ('fp16' if fp16 else 'fp32')}, {'external data ' + data_file if external else 'inline'}) ...")
    store.write()
    files = []
    while traced:
        fname, model = traced.pop(0)
        model = store.attach(model, last=not traced)
        path = os.path.join(out_dir, fname)
        onnx.save(model, path)
        if external or store.bytes_total < 256 * 1024**2:
            onnx.checker.check_model(path)  # a big inline model would be checked from a second in-memory copy
        del model
        files.append(fname)
    return {
        "files": files,
        "external_data": data_file if external else None,
        "weight_bytes": store.bytes_total,
        "quantized_tensors": len(store.quantized),
    }
