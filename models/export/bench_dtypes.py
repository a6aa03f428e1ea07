#!/usr/bin/env python3
"""Measures --dtype fp32 / fp16 / int8 / int4 on a random-weight checkpoint of a real model's exact shape.

    nice -n 10 /usr/bin/python3 -m models.export.bench_dtypes --shape qwen3-0.6b --out build/bench [--keep]

Writes OUT/<shape>/checkpoint (config.json with the real model's sizes, a synthetic tokenizer with its vocabulary
size, BF16 random weights written tensor by tensor), converts it at each dtype, and for each runs the positions
head in onnxruntime-node on the CPU (models/export/bench_run.mjs, one process per model) on one window of WINDOW
tokens with a ROWS-token masked canvas. Reported per dtype: files on disk, converter peak RSS, session load time and
resident memory, ms per step (median of STEPS after one warm-up), and against fp32 on the same input: top-1
agreement over the canvas rows and the largest |p - p_fp32| over tokens in both top-k lists.
Random weights say nothing about real-weight quality loss; they only show the format runs and how far it moves the
numbers. Each converted model is deleted after it is measured unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from .checkpoint import expected_shapes, inspect_checkpoint
from .safetensors_io import INDEX_FILE, f32_to_bf16_bits
from .tiny import N_BYTES, bytes_to_unicode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QWEN_SPECIALS = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>", 151646: "<|mask|>"}
# Sizes as the published config.json files give them (the rest of each config: models/export/tiny.py's layouts).
SHAPES = {
    "qwen3-0.6b": dict(model_type="a2d-qwen3", architectures=["A2DQwen3LMHeadModel"], hidden_size=1024,
                       intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                       head_dim=128, vocab_size=151936, max_position_embeddings=40960, rope_theta=1000000,
                       rms_norm_eps=1e-6, tie_word_embeddings=True, attention_bias=False, hidden_act="silu",
                       eos_token_id=151645, bos_token_id=151643),
    "qwen2-0.5b": dict(model_type="a2d-qwen2", architectures=["A2DQwen2LMHeadModel"], hidden_size=896,
                       intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                       vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                       tie_word_embeddings=True, hidden_act="silu", eos_token_id=151643),
}  # fmt: skip
TOKENIZER_CONFIG = {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>"}


def write_tokenizer(path: str, specials: dict) -> None:
    alphabet = bytes_to_unicode()
    vocab = {alphabet[b]: b for b in range(N_BYTES)}
    for i in range(N_BYTES, max(specials) + 1):
        if i not in specials:
            vocab[f"\u0120fill{i}"] = i  # filler pieces keep the ids contiguous, like a real 151k vocabulary
    added = [{"id": i, "content": s, "special": True} for i, s in sorted(specials.items())]
    tok = {"version": "1.0", "added_tokens": added, "normalizer": None, "post_processor": None,
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": {"type": "BPE", "vocab": vocab, "merges": []}}  # fmt: skip
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok, f)


def write_checkpoint(directory: str, shape: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(dict(SHAPES[shape], torch_dtype="bfloat16"), f, indent=2)
    write_tokenizer(os.path.join(directory, "tokenizer.json"), QWEN_SPECIALS)
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(TOKENIZER_CONFIG, f)
    spec = inspect_checkpoint(directory, open_weights=False)
    shapes = {spec.sources[p]: s for p, s in expected_shapes(spec.arch).items()}
    shapes = {n: ((SHAPES[shape]["vocab_size"],) + s[1:] if "embed" in n or "lm_head" in n else s)
              for n, s in shapes.items()}  # fmt: skip
    rng = np.random.default_rng(0)
    header, offset = {}, 0
    for name, shp in shapes.items():
        nbytes = int(np.prod(shp)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shp), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    head = json.dumps(header).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    fname = "model-00001-of-00001.safetensors"
    with open(os.path.join(directory, fname), "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for name, shp in shapes.items():
            if name.endswith("norm.weight"):
                arr = (1.0 + 0.1 * rng.standard_normal(shp)).astype(np.float32)
            else:
                arr = rng.standard_normal(shp, dtype=np.float32)
                arr *= 1.0 if "embed" in name or "lm_head" in name else 1.0 / np.sqrt(shp[-1])
            f.write(f32_to_bf16_bits(arr).tobytes())
    with open(os.path.join(directory, INDEX_FILE), "w", encoding="utf-8") as f:
        json.dump({"metadata": {}, "weight_map": {n: fname for n in shapes}}, f)


def dir_bytes(d: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=sorted(SHAPES), required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dtypes", default="fp32,fp16,int8,int4")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--rows", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    root = os.path.join(args.out, args.shape)
    ckpt = os.path.join(root, "checkpoint")
    if not os.path.isfile(os.path.join(ckpt, INDEX_FILE)):
        t = time.time()
        write_checkpoint(ckpt, args.shape)
        print(f"checkpoint written in {time.time() - t:.0f}s ({dir_bytes(ckpt) / 1e9:.2f} GB)", flush=True)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 151000, size=(1, args.window))
    start = args.window // 2
    ids[0, start : start + args.rows] = 151646  # <|mask|>
    inputs = os.path.join(root, "inputs.json")
    with open(inputs, "w") as f:
        json.dump({"input_ids": ids.tolist(), "positions": [list(range(start, start + args.rows))]}, f)
    results = {}
    for dtype in args.dtypes.split(","):
        model_dir = os.path.join(root, f"model-{dtype}")
        shutil.rmtree(model_dir, ignore_errors=True)
        t = time.time()
        # the converter's own peak RSS, printed by a wrapper in the same process (not the max over all children)
        wrapper = ("import resource, runpy, sys; sys.argv = ['convert'] + sys.argv[1:]\n"
                   "try:\n    runpy.run_module('models.export.convert', run_name='__main__')\n"
                   "finally:\n    print('@@rss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)")  # fmt: skip
        r = subprocess.run([sys.executable, "-c", wrapper, "--checkpoint", ckpt, "--out", model_dir,
                            "--dtype", dtype, "--max-length", "4096"], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        if r.returncode:
            print(r.stdout[-2000:], r.stderr[-4000:])
            return r.returncode
        peak_kb = int([x for x in r.stdout.splitlines() if x.startswith("@@rss ")][-1].split()[1])
        with open(os.path.join(model_dir, "model.json")) as f:
            manifest = json.load(f)
        res = {"convert_s": round(time.time() - t, 1), "disk_gb": round(dir_bytes(model_dir) / 1e9, 3),
               "convert_peak_rss_gb": round(peak_kb / 1024**2, 2)}  # fmt: skip
        run = subprocess.run(["node", os.path.join(ROOT, "models", "export", "bench_run.mjs"),
                              os.path.join(model_dir, manifest["onnx"]), inputs, str(args.steps), str(args.threads)],
                             cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        if run.returncode:
            print(run.stderr[-4000:])
            return run.returncode
        out = json.loads(run.stdout)
        res.update(load_s=round(out["load_ms"] / 1000, 1), rss_loaded_gb=round(out["rss_loaded_mb"] / 1024, 2),
                   rss_after_steps_gb=round(out["rss_after_steps_mb"] / 1024, 2),
                   ms_per_step=round(statistics.median(out["ms_per_step"])),
                   ms_all=[round(x) for x in out["ms_per_step"]])  # fmt: skip
        k = out["k"]
        got_ids = np.array(out["topk_ids"]).reshape(-1, k)
        got_p = np.array(out["topk_probs"]).reshape(-1, k)
        if dtype == "fp32":
            base_ids, base_p = got_ids, got_p
        if "fp32" in results or dtype == "fp32":
            res["top1_agree"] = float((got_ids[:, 0] == base_ids[:, 0]).mean())
            diffs = [abs(got_p[r, j] - base_p[r, list(base_ids[r]).index(t)])
                     for r in range(len(got_ids)) for j, t in enumerate(got_ids[r]) if t in base_ids[r]]  # fmt: skip
            res["max_prob_diff"] = float(max(diffs)) if diffs else None
        results[dtype] = res
        print(json.dumps({dtype: res}), flush=True)
        if not args.keep:
            shutil.rmtree(model_dir)
    with open(os.path.join(root, "result.json"), "w") as f:
        json.dump({"shape": args.shape, "window": args.window, "rows": args.rows, "threads": args.threads,
                   "results": results}, f, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
