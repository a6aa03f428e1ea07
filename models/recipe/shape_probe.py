"""Which model shapes fit the CPU latency bound: export random-weight models of candidate shapes (speed does not depend
on the weights) and time one denoising step of each on this CPU with onnxruntime-node (shape_bench.mjs).

    /usr/bin/python3 -m models.recipe.shape_probe --shapes 4x256,6x320,6x384,8x384 --out build/shape-probe

Prints one JSON line per shape (parameters, bf16 bytes, ms/step at --length with --rows requested rows, and the ratio
to --reference, the shipped model, timed round-robin with them: on a loaded shared machine the ratios hold when the
absolute figures do not) and writes them to <out>/shapes.json. gpu_train.sh's SIZES are the shapes measured here under ~40 ms at L=256.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from .bpe import MASK_ID
from .export import export_onnx
from .model import DiffusionEncoder, ModelConfig, count_parameters

REPO = Path(__file__).resolve().parents[2]


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="4x256,6x320,6x384,8x384")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--out", default="build/shape-probe")
    ap.add_argument("--reference", default="models/default", help="a model folder timed alongside ('' for none)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    folders, results = [], []
    for shape in args.shapes.split(","):
        layers, hidden = (int(v) for v in shape.split("x"))
        cfg = ModelConfig(vocab_size=args.vocab_size, layers=layers, hidden=hidden, heads=max(1, hidden // 64))
        torch.manual_seed(0)
        model = DiffusionEncoder(cfg, mask_id=MASK_ID).eval()
        folder = out / shape
        folder.mkdir(parents=True, exist_ok=True)
        export_onnx(model, folder, 8, full_logits=False)
        (folder / "model.json").write_text(json.dumps({"onnx": "model.onnx"}) + "\n")
        params = count_parameters(model)
        folders.append(str(folder))
        results.append({"shape": shape, "heads": cfg.heads, "parameters": params, "bf16_bytes": 2 * params})
    # The reference (the shipped model, whose latency BENCHMARKS.md reports) is timed in the same round-robin.
    reference = [args.reference] if args.reference else []
    run = subprocess.run(["node", str(REPO / "models" / "recipe" / "shape_bench.mjs"), "--length", str(args.length),
                          "--rows", str(args.rows), "--runs", str(args.runs), *folders, *reference],
                         capture_output=True, text=True, check=True)
    timings = [json.loads(line) for line in run.stdout.strip().splitlines()]
    ref_ms = timings[-1]["median_ms"] if reference else None
    for record, timing in zip(results, timings):
        record.update({k: timing[k] for k in ("length", "rows", "threads", "runs", "median_ms", "min_ms")})
        if ref_ms:
            record["ratio_to_reference"] = round(timing["median_ms"] / ref_ms, 3)
        print(json.dumps(record), flush=True)
    if reference:
        results.append({"reference": args.reference, **{k: timings[-1][k] for k in ("median_ms", "min_ms")}})
        print(json.dumps(results[-1]), flush=True)
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = None
    results.append({"loadavg_after": load})
    (out / "shapes.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
