#!/usr/bin/env python3
"""Converts a random-weight checkpoint with the EXACT shape of a real model, end to end, and checks it.

    /usr/bin/python3 bench/export_scale.py --shape open-dcoder-0.5b --out /tmp/scale [--fp16] [--ort]
    /usr/bin/python3 bench/export_scale.py --shape dream-7b --out /tmp/scale --fp16-compute   # ~30 GB of disk
    /usr/bin/python3 bench/export_scale.py --shape qwen3-0.6b --out /tmp/scale   # dllm A2D layout (q/k norm, head_dim 128)

Writes OUT/checkpoint (Hugging Face layout: config.json like the real one, BF16 safetensors shards + index,
a synthetic byte-level tokenizer.json with the real vocabulary size and special-token ids), runs the converter
(models/export/convert.py) on it and reports time and peak memory (ru_maxrss) of the conversion. With --ort it
also runs the converted positions head in ONNX Runtime (Node, CPU) on one window, compares it with the PyTorch
module and times a few steps: the at-scale version of the tiny parity tests (needs RAM for the fp32 model).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from models.export import bench_dtypes, tiny  # noqa: E402
from models.export.checkpoint import expected_shapes, inspect_checkpoint  # noqa: E402
from models.export.safetensors_io import INDEX_FILE, f32_to_bf16_bits  # noqa: E402
from models.export.tiny import N_BYTES, bytes_to_unicode  # noqa: E402

QWEN_SPECIALS = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>"}
SHAPES = {
    # Qwen2.5-Coder-0.5B base (Open-dCoder-0.5B); tokenizer: 151643 BPE tokens + specials up to <|mask|>
    "open-dcoder-0.5b": {
        "config": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], hidden_size=896, intermediate_size=4864,
                       num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                       max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                       tie_word_embeddings=True, hidden_act="silu", rope_scaling=None, eos_token_id=151643),
        "specials": {**QWEN_SPECIALS, 151646: "<|mask|>"},
        "tokenizer_config": {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>"},
    },
    # Dream-v0-Base-7B (and Dream-Coder / DiffuCoder / DreamOn): Qwen2.5-7B with bos 151665 and mask 151666
    "dream-7b": {
        "config": dict(model_type="Dream", architectures=["DreamModel"], hidden_size=3584, intermediate_size=18944,
                       num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
                       max_position_embeddings=131072, rope_theta=1000000.0, rms_norm_eps=1e-6,
                       tie_word_embeddings=False, hidden_act="silu", rope_scaling=None, mask_token_id=151666,
                       pad_token_id=151643, bos_token_id=151665, eos_token_id=151643),
        "specials": {**QWEN_SPECIALS, 151665: "<|beginoftext|>", 151666: "<|mask|>"},
        "tokenizer_config": {},
    },
    # Qwen3-0.6B in dllm's A2D layout (Qwen3-0.6B-diffusion-mdlm): sizes from models/export/bench_dtypes.py's table
    "qwen3-0.6b": {
        "config": bench_dtypes.SHAPES["qwen3-0.6b"],
        "specials": bench_dtypes.QWEN_SPECIALS,
        "tokenizer_config": bench_dtypes.TOKENIZER_CONFIG,
    },
    # The same layout at models/export/tiny.py's qwen3-tiny sizes (the device script's smoke run, on any machine)
    "qwen3-tiny": {
        "config": tiny.qwen3_config(tied=True),
        "specials": {N_BYTES + i: s for i, s in enumerate(tiny.QWEN3_SPECIALS)},
        "tokenizer_config": tiny.QWEN3_TOKENIZER_CONFIG,
    },
}  # fmt: skip


def write_tokenizer(path: str, specials: dict) -> None:
    alphabet = bytes_to_unicode()
    vocab = {alphabet[b]: b for b in range(N_BYTES)}
    last = max(specials)
    for i in range(N_BYTES, last + 1):
        if i not in specials:
            vocab[f"Ġfill{i}"] = i  # filler pieces keep the ids contiguous, like a real 151k vocabulary
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, s in sorted(specials.items())]  # fmt: skip
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
           "post_processor": None,
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                     "merges": []}}  # fmt: skip
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok, f)


def tensor_shapes(directory: str, vocab: int) -> dict:
    """Checkpoint tensor names and shapes as the converter expects them for the config.json and tokenizer already
    in `directory` (models/export/checkpoint.py: every family's layout, q/k norms, biases, tied heads), with the
    embedding and head at the config's `vocab` rows (the real ones are padded past the tokenizer's size)."""
    spec = inspect_checkpoint(directory, open_weights=False)
    shapes = {spec.sources[p]: s for p, s in expected_shapes(spec.arch).items()}
    return {n: ((vocab,) + s[1:] if "embed" in n or "lm_head" in n else s) for n, s in shapes.items()}


def write_checkpoint(directory: str, shape: str, shard_bytes: int = 4 * 1024**3, fast: bool = False) -> None:
    """BF16 shards written tensor by tensor (never the whole model in memory). `fast` tiles one random block
    instead of drawing every value (a 7B checkpoint then takes minutes, not an hour, on 2 cores)."""
    spec = SHAPES[shape]
    os.makedirs(directory, exist_ok=True)
    cfg = dict(spec["config"], torch_dtype="bfloat16")
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    write_tokenizer(os.path.join(directory, "tokenizer.json"), spec["specials"])
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(spec["tokenizer_config"], f)
    shapes = tensor_shapes(directory, cfg["vocab_size"])
    rng = np.random.default_rng(0)
    block = rng.standard_normal(1 << 20, dtype=np.float32)
    groups, current, size = [], [], 0
    for name, shp in shapes.items():
        nbytes = int(np.prod(shp)) * 2
        if current and size + nbytes > shard_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(name)
        size += nbytes
    groups.append(current)
    weight_map = {}
    for gi, group in enumerate(groups):
        fname = f"model-{gi + 1:05d}-of-{len(groups):05d}.safetensors"
        header, offset = {}, 0
        for name in group:
            nbytes = int(np.prod(shapes[name])) * 2
            header[name] = {"dtype": "BF16", "shape": list(shapes[name]), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = fname
        head = json.dumps(header).encode()
        head += b" " * ((8 - len(head) % 8) % 8)
        with open(os.path.join(directory, fname), "wb") as f:
            f.write(len(head).to_bytes(8, "little"))
            f.write(head)
            for name in group:
                shp = shapes[name]
                if name.endswith("norm.weight"):
                    arr = np.ones(shp, np.float32)
                else:
                    if fast:
                        arr = np.resize(np.roll(block, len(name)), shp).astype(np.float32)
                    else:
                        arr = rng.standard_normal(shp, dtype=np.float32)
                    arr *= 1.0 if "embed" in name or "lm_head" in name else 1.0 / np.sqrt(shp[-1])
                f.write(f32_to_bf16_bits(arr).tobytes())
                del arr
        print(f"  wrote {fname}", flush=True)
    with open(os.path.join(directory, INDEX_FILE), "w", encoding="utf-8") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)


def ort_check(model_dir: str, ckpt: str, window: int, steps: int) -> dict:
    import torch

    from models.export.checkpoint import inspect_checkpoint, load_state_dict
    from models.export.modeling import DiffusionLM, PositionsTopK

    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 151000, size=(1, window))
    ids[0, window // 2 : window // 2 + 32] = manifest["special_tokens"]["mask"]
    positions = list(range(window // 2 - 1, window // 2 + 31))
    feeds = {"input_ids": ids.tolist(), "positions": [positions]}
    inputs = os.path.join(model_dir, "scale-inputs.json")
    with open(inputs, "w") as f:
        json.dump(feeds, f)
    times = []
    out = None
    for _ in range(steps):
        r = subprocess.run(["node", os.path.join(ROOT, "models", "export", "ort_check.mjs"),
                            os.path.join(model_dir, manifest["onnx"]), inputs], capture_output=True, text=True)  # fmt: skip
        if r.returncode:
            raise SystemExit(r.stderr)
        out = json.loads(r.stdout)
        times.append(out["_elapsed_ms"])
    spec = inspect_checkpoint(ckpt)
    lm = DiffusionLM(spec.arch).eval()
    fp16 = manifest["export"]["weights"].startswith("float16")
    lm.load_state_dict(load_state_dict(spec, round_fp16=fp16))
    head = PositionsTopK(lm, spec.special.mask, manifest["top_k"]).eval()
    with torch.no_grad():
        _, probs, entropy = head(torch.tensor(ids), torch.tensor([positions]))
    got_p = np.array(out["topk_probs"]["data"]).reshape(out["topk_probs"]["dims"])
    got_h = np.array(out["entropy"]["data"]).reshape(out["entropy"]["dims"])
    return {"window": window, "ort_cpu_ms_per_step": times, "topk_probs_max_abs_diff": float(np.abs(got_p - probs.numpy()).max()),
            "entropy_max_abs_diff": float(np.abs(got_h - entropy.numpy()).max())}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="open-dcoder-0.5b")
    p.add_argument("--out", required=True)
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--fp16-compute", action="store_true")
    p.add_argument("--ort", action="store_true", help="run and compare the converted model in ONNX Runtime")
    p.add_argument("--window", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--fast-random", action="store_true", help="tile one random block (big shapes)")
    args = p.parse_args(argv)
    ckpt = os.path.join(args.out, "checkpoint")
    model_dir = os.path.join(args.out, "model")
    t0 = time.time()
    if not os.path.isfile(os.path.join(ckpt, INDEX_FILE)):
        write_checkpoint(ckpt, args.shape, fast=args.fast_random)
    print(f"checkpoint ready in {time.time() - t0:.0f}s", flush=True)
    cmd = [sys.executable, "-m", "models.export.convert", "--checkpoint", ckpt, "--out", model_dir, "--name", args.shape]
    cmd += ["--fp16"] if args.fp16 else []
    cmd += ["--fp16-compute"] if args.fp16_compute else []
    t1 = time.time()
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode:
        return r.returncode
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    sizes = {f: os.path.getsize(os.path.join(model_dir, f)) / 1e9 for f in os.listdir(model_dir)}
    result = {"shape": args.shape, "convert_s": round(time.time() - t1, 1), "convert_peak_rss_gb": round(child, 2),
              "files_gb": {k: round(v, 3) for k, v in sizes.items()}}  # fmt: skip
    print(json.dumps(result), flush=True)
    if args.ort:
        result.update(ort_check(model_dir, ckpt, args.window, args.steps))
        print(json.dumps(result), flush=True)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
