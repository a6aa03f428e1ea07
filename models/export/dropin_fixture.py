"""A tiny drop-in ONNX folder in the Optimum / transformers.js layout, built at test time (nothing committed):

    /usr/bin/python3 -m models.export.dropin_fixture --out test-artifacts/dropin

OUT/qwen3-dropin/: config.json, tokenizer.json, tokenizer_config.json (models/export/tiny.py's Qwen3 A2D layout)
and onnx/model.onnx: inputs input_ids, attention_mask, position_ids [batch, length] (int64), output `logits`
[batch, length, vocab] with NO mask suppression (as a plain export of the model gives). attention_mask scales the
embeddings and position_ids drive RoPE, so a runtime that feeds them wrongly gets different logits. reference.json
holds an input and the PyTorch logits. Used by test/unit/dropin.test.ts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import warnings

import numpy as np
import torch

from .checkpoint import inspect_checkpoint, load_state_dict
from .modeling import DiffusionLM
from .tiny import write_qwen3


class OptimumStyle(torch.nn.Module):
    def __init__(self, lm: DiffusionLM):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids, attention_mask, position_ids):
        lm = self.lm
        x = torch.nn.functional.embedding(input_ids, lm.model.embed_tokens.weight)
        x = x * attention_mask.unsqueeze(-1).to(x.dtype)
        freqs = position_ids[0].to(torch.float32)[:, None] * lm.rotary.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        for layer in lm.model.layers:
            x = layer(x, cos, sin)
        return lm.project(lm.model.norm(x))


def build(root: str) -> str:
    work = os.path.join(root, "checkpoint")
    folder = os.path.join(root, "qwen3-dropin")
    for d in (work, folder):
        shutil.rmtree(d, ignore_errors=True)
    write_qwen3(work, seed=21, tied=False)
    spec = inspect_checkpoint(work)
    lm = DiffusionLM(spec.arch).eval()
    lm.load_state_dict(load_state_dict(spec), strict=True)
    model = OptimumStyle(lm).eval()
    os.makedirs(os.path.join(folder, "onnx"))
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(work, f), os.path.join(folder, f))
    example = (torch.randint(0, 200, (1, 7)), torch.ones(1, 7, dtype=torch.int64), torch.arange(7)[None])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, example, os.path.join(folder, "onnx", "model.onnx"),
            input_names=["input_ids", "attention_mask", "position_ids"], output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "length"} for n in ["input_ids", "attention_mask", "position_ids", "logits"]},
            opset_version=17,
        )  # fmt: skip
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 256, size=(1, 14)).astype(np.int64)
    ids[0, 5:10] = spec.special.mask
    with torch.no_grad():
        t = torch.from_numpy(ids)
        logits = model(t, torch.ones_like(t), torch.arange(t.shape[1])[None]).numpy()
    with open(os.path.join(root, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"input_ids": ids[0].tolist(), "mask": spec.special.mask, "logits": logits[0].tolist()}, f)
    shutil.rmtree(work)
    return folder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="build the tiny drop-in ONNX test folder")
    p.add_argument("--out", default=os.path.join("test-artifacts", "dropin"))
    args = p.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
