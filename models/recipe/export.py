"""Export a trained checkpoint to our ONNX model format (docs/model-format.md).

Writes into --out:
  model.onnx            positions_topk head: input_ids [b, L] + positions [b, n] -> topk_ids, topk_probs, entropy;
                        checked to hold no op without a WebGPU kernel (models/recipe/webgpu_ops.py)
  model.logits.onnx     full logits [b, L, V] (parity tests, debugging)          (skipped with --no-full-logits)
  tokenizer.json, tokenizer_config.json
  model.json            the manifest
  reference.json        one input with PyTorch's outputs, so ONNX Runtime can be checked against PyTorch in Node
                        (test/unit/onnx-parity.test.ts); Python has no ONNX Runtime on these machines
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from .bpe import EOS_ID, MASK_ID, PAD_ID, Encoder
from .model import DiffusionEncoder, ModelConfig, count_parameters
from .webgpu_ops import assert_webgpu_ops

OPSET = 17


class PositionsHead(torch.nn.Module):
    def __init__(self, model: DiffusionEncoder, k: int):
        super().__init__()
        self.model, self.k = model, k

    def forward(self, input_ids, positions):
        return self.model.positions_head(input_ids, positions, self.k)


class FullLogits(torch.nn.Module):
    def __init__(self, model: DiffusionEncoder):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids)


def load_model(checkpoint: Path) -> tuple[DiffusionEncoder, dict]:
    state = torch.load(checkpoint, map_location="cpu")
    cfg = ModelConfig(**state["config"])
    model = DiffusionEncoder(cfg, mask_id=MASK_ID)
    model.load_state_dict(state["model"])
    model.eval()
    return model, state


def export_onnx(model: DiffusionEncoder, out: Path, k: int, full_logits: bool) -> None:
    ids = torch.randint(3, model.cfg.vocab_size, (1, 32))
    pos = torch.tensor([[3, 4, 5, 6]])
    # Constant folding off: it would store a transposed copy of the tied embedding next to the original.
    torch.onnx.export(PositionsHead(model, k), (ids, pos), str(out / "model.onnx"), opset_version=OPSET,
                      input_names=["input_ids", "positions"], output_names=["topk_ids", "topk_probs", "entropy"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "positions": {0: "batch", 1: "n"},
                                    "topk_ids": {0: "batch", 1: "n"}, "topk_probs": {0: "batch", 1: "n"},
                                    "entropy": {0: "batch", 1: "n"}},
                      do_constant_folding=False)
    # Every compute node must have a WebGPU kernel (model.py's head is written for that; webgpu_ops.py).
    assert_webgpu_ops(out / "model.onnx")
    if full_logits:
        torch.onnx.export(FullLogits(model), (ids,), str(out / "model.logits.onnx"), opset_version=OPSET,
                          input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "logits": {0: "batch", 1: "length"}},
                          do_constant_folding=False)


# Strings that stress exact round trips: tabs, blank lines, CRLF, trailing spaces, non-ASCII, astral characters.
TOKENIZER_CASES = [
    "def f(x):\n\treturn x  # tab-indented\n",
    "function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "const s = `template ${value}`;   \n\n\n    // trailing spaces above\n",
    "naïve = 'ü' + \"日本語\" + '😀𝔘'\r\n",
    "  \n   \n\t\t\n",
    "x\u00a0=\u2003y  ;;  {[()]}  !== >>>= ??= ...rest",
    "class A:\n    def __init__(self):\n        self.items: list[int] = []\n",
]


def reference_case(model: DiffusionEncoder, enc: Encoder, k: int) -> dict:
    """A realistic masked input (code with a masked line) and PyTorch's outputs for it."""
    text = "def add(a, b):\n    result = a + b\n    return result\n\n\nprint(add(1, 2))\n"
    ids = enc.encode(text)
    masked_positions = list(range(8, min(len(ids) - 2, 16)))
    for p in masked_positions:
        ids[p] = MASK_ID
    positions = masked_positions + [0, len(ids) - 1]
    with torch.no_grad():
        input_ids = torch.tensor([ids])
        topk_ids, topk_probs, entropy = model.positions_head(input_ids, torch.tensor([positions]), k)
        logits = model(input_ids)
    return {
        "input_ids": ids,
        "positions": positions,
        "topk_ids": topk_ids[0].tolist(),
        "topk_probs": topk_probs[0].tolist(),
        "entropy": entropy[0].tolist(),
        # A slice of the full logits (the first 3 requested rows, first 64 vocabulary entries) for the full graph.
        "logits_rows": positions[:3],
        "logits_slice": logits[0, positions[:3], :64].tolist(),
        # Python-side token ids, for the Node tokenizer parity test.
        "tokenizer_cases": [{"text": t, "ids": enc.encode(t)} for t in TOKENIZER_CASES],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="final.pt or checkpoint.pt written by train.py")
    ap.add_argument("--tokenizer-dir", default="build/tokenizer")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--no-full-logits", action="store_true")
    ap.add_argument("--training-log", default=None, help="log.jsonl of the run, summarised into model.json")
    ap.add_argument("--extra-training", default=None, help="JSON object merged into the manifest's training field")
    args = ap.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, state = load_model(Path(args.checkpoint))
    tok_dir = Path(args.tokenizer_dir)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tok_dir / name, out / name)
    enc = Encoder.load(out / "tokenizer.json")
    if len(enc.vocab) != model.cfg.vocab_size:
        sys.exit(f"error: tokenizer in {tok_dir} has {len(enc.vocab)} tokens, the checkpoint expects "
                 f"{model.cfg.vocab_size}")
    export_onnx(model, out, args.top_k, not args.no_full_logits)

    training = {"tokens_seen": state.get("tokens"), "steps": state.get("step"),
                "wall_time_s": round(state.get("elapsed", 0.0), 1)}
    if args.training_log:
        records = [json.loads(line) for line in open(args.training_log)]
        start = next((r for r in records if r.get("event") == "start"), {})
        done = [r for r in records if r.get("event") == "done"]
        training.update({"corruption": start.get("corruption"), "mixture": start.get("mixture"),
                         "sequence_length": start.get("args", {}).get("seq_len"),
                         "batch": start.get("args", {}).get("batch"), "device": start.get("device")})
        if done:
            training.update({k: v for k, v in done[-1].items() if k.startswith("val_")})
    if args.extra_training:
        training.update(json.loads(args.extra_training))
    manifest = {
        "format": "diffusion-infill/1",
        "name": args.name,
        "onnx": "model.onnx",
        **({} if args.no_full_logits else {"onnx_full_logits": "model.logits.onnx"}),
        "tokenizer": "tokenizer.json",
        "vocab_size": model.cfg.vocab_size,
        "special_tokens": {"mask": MASK_ID, "pad": PAD_ID, "end": PAD_ID, "eos": EOS_ID},
        "logit_shift": "none",
        "max_length": model.cfg.max_length,
        "trained_length": (state.get("args") or {}).get("seq_len", training.get("sequence_length")),
        "output_kind": "positions_topk",
        "top_k": args.top_k,
        "languages": ["python", "javascript", "typescript"],
        "architecture": {"type": "bidirectional transformer encoder, pre-LayerNorm, rotary positions, tied embeddings",
                         "layers": model.cfg.layers, "hidden": model.cfg.hidden, "heads": model.cfg.heads,
                         "parameters": count_parameters(model)},
        "training": training,
    }
    if manifest["trained_length"] is None:
        del manifest["trained_length"]
    (out / "model.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "reference.json").write_text(json.dumps(reference_case(model, enc, args.top_k)) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(json.dumps({"out": str(out), "parameters": count_parameters(model), "files": sizes}), file=sys.stderr)


if __name__ == "__main__":
    main()
