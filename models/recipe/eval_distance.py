"""Validation masked-token accuracy overall and by distance from the nearest context (unmasked) token, for model
folders on this CPU (onnxruntime-node through predict_masked.mjs: the graph the engine runs).

Why by distance: uniform corruption at rate t puts most masked tokens next to a visible one, so a model trained only
on it may never learn to predict far from context; a real hole of 64 tokens has most of its positions 5-32 tokens
from the nearest context. Each example is a window of --length tokens from a validation file with one contiguous
line-aligned hole of up to --max-hole tokens fully masked (one forward pass, top-1 at every masked position), plus a
uniform-15% set for the overall figure the training log also reports.

    /usr/bin/python3 -m models.recipe.eval_distance --files build/corpus-jsts/files.jsonl \
        --models models/default models/uniform --out build/eval/distance.json

All models must share the tokenizer of the first one (the ids are computed once).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .bpe import EOS_ID, MASK_ID, Encoder

REPO = Path(__file__).resolve().parents[2]
BUCKETS = [(1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32), (33, 10 ** 9)]


def bucket_name(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else (f"{lo}+" if hi >= 10 ** 9 else f"{lo}-{hi}")


def distance_to_context(masked: np.ndarray) -> np.ndarray:
    """For every position, the distance to the nearest unmasked position (0 where unmasked)."""
    n = masked.size
    idx = np.arange(n)
    visible = np.where(~masked, idx, -10 ** 9)
    left = np.maximum.accumulate(visible)
    visible_r = np.where(~masked, idx, 10 ** 9)
    right = np.minimum.accumulate(visible_r[::-1])[::-1]
    return np.minimum(idx - left, right - idx)


def make_examples(texts: list[str], enc: Encoder, n: int, length: int, max_hole: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    stream: list[int] = []
    for t in texts:
        stream += enc.encode(t) + [EOS_ID]
    tokens = np.asarray(stream, dtype=np.int64)
    newline = np.asarray(["Ċ" in enc.id_to_token[int(i)] for i in tokens], dtype=bool)
    if tokens.size < 2 * length:
        raise ValueError(f"{tokens.size} validation tokens: too few for windows of {length}")
    out = []
    for _ in range(n):
        start = rng.randrange(0, tokens.size - length)
        x = tokens[start:start + length]
        nl = np.flatnonzero(newline[start:start + length])
        kind = "hole" if len(nl) >= 2 and rng.random() < 0.75 else "uniform15"
        masked = np.zeros(length, dtype=bool)
        if kind == "hole":
            # A hole from the token after a newline to a later newline token, at most max_hole tokens.
            a = int(nl[rng.randrange(len(nl) - 1)]) + 1
            ends = [int(e) for e in nl if a <= e < a + max_hole]
            b = (rng.choice(ends) + 1) if ends else min(a + max_hole, length)
            masked[a:b] = True
        if not masked.any():
            kind = "uniform15"
            nrng = np.random.default_rng(rng.randrange(1 << 30))
            masked = nrng.random(length) < 0.15
            masked[nrng.integers(length)] = True
        out.append({"kind": kind, "input_ids": np.where(masked, MASK_ID, x).tolist(),
                    "positions": np.flatnonzero(masked).tolist(), "targets": x[masked].tolist(),
                    "distance": distance_to_context(masked)[masked].tolist()})
    return out


def predict(model_dir: Path, examples: list[dict]) -> list[list[int]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump([{"input_ids": e["input_ids"], "positions": e["positions"]} for e in examples], fh)
    try:
        run = subprocess.run(["node", str(REPO / "models" / "recipe" / "predict_masked.mjs"), str(model_dir), fh.name],
                             capture_output=True, text=True, check=True)
    finally:
        Path(fh.name).unlink()
    return json.loads(run.stdout)


def score(examples: list[dict], predictions: list[list[int]]) -> dict:
    def acc(pairs):
        return {"accuracy": round(float(np.mean(pairs)), 4) if pairs else None, "tokens": len(pairs)}
    hole, uni, by = [], [], {bucket_name(*b): [] for b in BUCKETS}
    for ex, pred in zip(examples, predictions):
        hits = [int(p == t) for p, t in zip(pred, ex["targets"])]
        (hole if ex["kind"] == "hole" else uni).extend(hits)
        if ex["kind"] == "hole":
            for d, h in zip(ex["distance"], hits):
                for lo, hi in BUCKETS:
                    if lo <= d <= hi:
                        by[bucket_name(lo, hi)].append(h)
    return {"uniform15": acc(uni), "holes": acc(hole), "holes_by_distance": {k: acc(v) for k, v in by.items()}}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", required=True, help="files.jsonl; its split=val files are used")
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--n", type=int, default=400, help="examples (windows)")
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--max-hole", type=int, default=64)
    ap.add_argument("--max-files", type=int, default=400)
    ap.add_argument("--languages", default=None, help="comma-separated, e.g. python")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    langs = set(args.languages.split(",")) if args.languages else None
    texts = []
    with open(args.files) as fh:
        for line in fh:
            f = json.loads(line)
            if f["split"] == "val" and (langs is None or f["lang"] in langs):
                texts.append(f["text"])
            if len(texts) >= args.max_files:
                break
    enc = Encoder.load(Path(args.models[0]) / "tokenizer.json")
    examples = make_examples(texts, enc, args.n, args.length, args.max_hole, args.seed)
    report = {"files": args.files, "validation_files": len(texts), "examples": len(examples), "length": args.length,
              "max_hole": args.max_hole, "seed": args.seed, "models": {}}
    for model in args.models:
        report["models"][model] = score(examples, predict(Path(model), examples))
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
