#!/usr/bin/env python3
"""Is an int8 / int4 disagreement with fp32 the format's fault or the random model's? (docs/byo-model.md)

    nice -n 10 /usr/bin/python3 -m models.export.quant_sensitivity --dtype int4 --layers 2 8

A random-weight checkpoint with Qwen3-0.6B's layer shapes (hidden 1024, head_dim 128, 16 / 8 heads, MLP 3072) and
LAYERS layers, a 260-token vocabulary (tied, embedding scale 1) is exported at fp32 and at DTYPE. Printed per depth:
  - ORT DTYPE vs the PyTorch module holding the same quantise-dequantised weights (and, for int8, the same
    activation rounding): the format's own error, at the real matmul shapes;
  - top-1 agreement over 20 masked rows of ORT DTYPE with ORT fp32, and of that PyTorch module with fp32: when
    both are low, the disagreement comes from the weights' rounding itself (random deep nets are chaotic),
    not from the exported graph.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

from . import tiny
from .checkpoint import inspect_checkpoint
from .convert import convert
from .hf_reference import ort_logits


def run(dtype: str, layers: int, root: str) -> dict:
    shutil.rmtree(root, ignore_errors=True)
    ck = os.path.join(root, "checkpoint")
    os.makedirs(ck)
    cfg = tiny.qwen3_config(True, hidden_size=1024, head_dim=128, num_attention_heads=16, num_key_value_heads=8,
                            intermediate_size=3072, num_hidden_layers=layers)  # fmt: skip
    tiny._write_json(os.path.join(ck, "config.json"), cfg)
    tiny._write_json(os.path.join(ck, "tokenizer.json"), tiny.tokenizer_json(tiny.QWEN3_SPECIALS))
    tiny._write_json(os.path.join(ck, "tokenizer_config.json"), {"eos_token": "<|im_end|>", "mask_token": "<|mask|>"})
    tiny.save_file(tiny._hf_tensors(cfg, np.random.default_rng(0), "hf", tied=True, qkv_bias=False),
                   os.path.join(ck, "model.safetensors"))  # fmt: skip
    for d in ("fp32", dtype):
        convert(ck, os.path.join(root, d), dtype=d, full_logits=True, log=lambda _m: None)
    spec = inspect_checkpoint(ck)
    ids = np.random.default_rng(1).integers(0, 256, size=(1, 64))
    ids[0, 20:40] = spec.special.mask
    ref = tiny.pytorch_reference(spec, dtype, 4, [{"input_ids": ids, "positions": np.array([list(range(20, 40))])}])
    want = np.array([[[-np.inf if v is None else v for v in row] for row in b] for b in ref[0]["logits"]])
    got = ort_logits(os.path.join(root, dtype, "model_full_logits.onnx"), ids)
    fp32 = ort_logits(os.path.join(root, "fp32", "model_full_logits.onnx"), ids)
    finite = np.isfinite(want)
    rows = slice(20, 40)
    return {"dtype": dtype, "layers": layers, "ort_vs_quantised_pytorch_max_abs": float(np.abs(got - want)[finite].max()),
            "logit_scale": float(np.abs(want[finite]).max()),
            "top1_ort_vs_fp32": float((got[0, rows].argmax(-1) == fp32[0, rows].argmax(-1)).mean()),
            "top1_quantised_pytorch_vs_fp32": float((want[0, rows].argmax(-1) == fp32[0, rows].argmax(-1)).mean())}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dtype", choices=["int8", "int4"], required=True)
    p.add_argument("--layers", type=int, nargs="+", default=[2, 8])
    p.add_argument("--out", default=os.path.join("build", "quant-sensitivity"))
    args = p.parse_args(argv)
    for layers in args.layers:
        print(json.dumps(run(args.dtype, layers, args.out)), flush=True)
    shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
