#!/usr/bin/env python3
"""Milliseconds per denoising step for random-weight models with the exact shapes of the real diffusion coders.

    /usr/bin/python3 bench/gpu_shapes.py                       # CUDA: open-dcoder-0.5b and dream-7b, windows 256/512/1024
    /usr/bin/python3 bench/gpu_shapes.py --device cpu --shapes tiny --windows 16,32   # the CPU smoke path (tested)
    /usr/bin/python3 bench/gpu_shapes.py --compare-transformers   # also check our module against HF transformers

One "step" is one forward of the exported positions head (models/export/modeling.py: PositionsTopK) over a
window of W tokens, asking for the canvas rows (the last --canvas tokens of the window, default W/4 up to 128):
exactly the work the engine does per step, in PyTorch rather than ONNX Runtime. Committed tokens per second
depend on the sampler (how many positions it commits per step); we report it for 1 commit per step (the
sequential reference) and for --commits-per-step (default 4, a threshold/EB-sampler-like rate).

Shapes (from the public configs):
  open-dcoder-0.5b  Qwen2.5-0.5B: hidden 896, 24 layers, 14 heads / 2 kv heads, MLP 4864, vocab 151936, tied
  dream-7b          Qwen2.5-7B:   hidden 3584, 28 layers, 28 heads / 4 kv heads, MLP 18944, vocab 152064 (fp16)
  tiny              hidden 64, 2 layers (CPU smoke test only)
Weights are random (normal, std 0.02): speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from models.export.modeling import ArchConfig, DiffusionLM, PositionsTopK  # noqa: E402

SHAPES = {
    "open-dcoder-0.5b": dict(vocab_size=151936, hidden_size=896, num_layers=24, num_heads=14, num_kv_heads=2,
                             intermediate_size=4864, rope_theta=1000000.0, rms_norm_eps=1e-6, qkv_bias=True,
                             tie_word_embeddings=True),
    "dream-7b": dict(vocab_size=152064, hidden_size=3584, num_layers=28, num_heads=28, num_kv_heads=4,
                     intermediate_size=18944, rope_theta=1000000.0, rms_norm_eps=1e-6, qkv_bias=True,
                     tie_word_embeddings=False),
    "tiny": dict(vocab_size=300, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=128,
                 qkv_bias=True, tie_word_embeddings=False),
}  # fmt: skip
DEFAULT_DTYPE = {"open-dcoder-0.5b": "fp16", "dream-7b": "fp16", "tiny": "fp32"}


class _NoInit:
    """Skips nn.Linear / nn.Embedding default init while building (a 7B model would take minutes on the CPU)."""

    def __enter__(self):
        self.saved = (torch.nn.Linear.reset_parameters, torch.nn.Embedding.reset_parameters)
        torch.nn.Linear.reset_parameters = lambda self: None  # type: ignore[assignment]
        torch.nn.Embedding.reset_parameters = lambda self: None  # type: ignore[assignment]
        return self

    def __exit__(self, *exc):
        torch.nn.Linear.reset_parameters, torch.nn.Embedding.reset_parameters = self.saved
        return False


def build(shape: str, device: torch.device, dtype: torch.dtype, top_k: int, mask_id: int = 0) -> PositionsTopK:
    cfg = ArchConfig(**SHAPES[shape])
    set_device = getattr(torch, "set_default_device", None)
    old_dtype = torch.get_default_dtype()
    try:
        if set_device is not None and device.type == "cuda":
            set_device(device)  # allocate straight on the GPU (torch >= 2.0)
            try:
                torch.set_default_dtype(dtype)  # ... and in the target precision (a 7B fp32 copy would not fit 24 GB)
            except (TypeError, ValueError):
                pass
        with _NoInit():
            lm = DiffusionLM(cfg)
        lm = lm.to(device=device, dtype=dtype)
        gen = torch.Generator(device=device).manual_seed(0)
        with torch.no_grad():
            for name, p in lm.named_parameters():
                if name.endswith("norm.weight"):
                    p.fill_(1.0)
                else:
                    p.normal_(0.0, 0.02, generator=gen)
        head = PositionsTopK(lm, mask_id, top_k).to(device).eval()
    finally:
        if set_device is not None and device.type == "cuda":
            set_device("cpu")
        torch.set_default_dtype(old_dtype)
    return head


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(head: PositionsTopK, window: int, canvas: int, steps: int, warmup: int, device: torch.device) -> dict:
    vocab = head.lm.cfg.vocab_size
    gen = torch.Generator(device="cpu").manual_seed(window)
    ids = torch.randint(1, vocab, (1, window), generator=gen).to(device)
    canvas = min(canvas, window - 1)
    start = window - canvas
    ids[0, start:] = 0  # masked canvas
    positions = torch.arange(start - 1, window - 1, device=device).unsqueeze(0)  # shifted rows of the canvas
    times = []
    with torch.no_grad():
        for i in range(warmup + steps):
            sync(device)
            t0 = time.perf_counter()
            out = head(ids, positions)
            sync(device)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
    assert out[0].shape == (1, canvas, head.top_k)
    return {"window": window, "canvas": canvas, "ms_per_step": statistics.mean(times),
            "ms_per_step_p50": statistics.median(times), "ms_per_step_min": min(times)}  # fmt: skip


def compare_transformers(device: torch.device) -> dict:
    """Our module vs Hugging Face's Qwen2 / LLaMA on the same random weights (small shapes)."""
    try:
        import transformers  # noqa: F401
        from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    except Exception as e:  # pragma: no cover - depends on the machine
        return {"skipped": f"transformers not importable ({e})"}
    out = {"transformers": transformers.__version__}
    for fam in ("qwen2", "llama"):
        common = dict(vocab_size=500, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
                      num_attention_heads=8, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0,
                      tie_word_embeddings=False, max_position_embeddings=512)  # fmt: skip
        if fam == "qwen2":
            hf = Qwen2ForCausalLM(Qwen2Config(**common))
        else:
            hf = LlamaForCausalLM(LlamaConfig(**common, attention_bias=False))
        hf = hf.float().eval().to(device)
        cfg = ArchConfig(vocab_size=500, hidden_size=128, num_layers=3, num_heads=8, num_kv_heads=2,
                         intermediate_size=256, rms_norm_eps=1e-6, rope_theta=10000.0, qkv_bias=fam == "qwen2")  # fmt: skip
        ours = DiffusionLM(cfg).eval().to(device)
        missing = ours.load_state_dict(hf.state_dict(), strict=False)
        ids = torch.randint(0, 500, (2, 33), device=device)
        result = {"unexpected_keys": list(missing.unexpected_keys)[:3], "missing_keys": list(missing.missing_keys)}
        with torch.no_grad():
            for layer in ours.model.layers:
                layer.self_attn.causal = True
            result["causal_max_abs_diff"] = (ours(ids) - hf(ids).logits).abs().max().item()
            for layer in ours.model.layers:
                layer.self_attn.causal = False
            try:  # a 4D additive mask of zeros makes HF attention bidirectional (eager attention)
                zeros = torch.zeros(2, 1, 33, 33, device=device)
                result["bidirectional_max_abs_diff"] = (ours(ids) - hf(ids, attention_mask=zeros).logits).abs().max().item()
            except Exception as e:  # pragma: no cover
                result["bidirectional"] = f"not comparable with this transformers version ({e})"
        out[fam] = result
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--shapes", default="open-dcoder-0.5b,dream-7b", help=f"comma list of {', '.join(SHAPES)}")
    p.add_argument("--windows", default="256,512,1024")
    p.add_argument("--canvas", type=int, default=0, help="canvas rows per step (default: window/4, at most 128)")
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--top-k", type=int, default=8)
    p.add_argument("--commits-per-step", type=float, default=4.0)
    p.add_argument("--compare-transformers", action="store_true")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    info = {"device": str(device), "torch": torch.__version__, "host": platform.node()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    print(json.dumps(info))
    rows = []
    for shape in [s for s in args.shapes.split(",") if s]:
        if shape not in SHAPES:
            print(f"unknown shape {shape}; choose from {', '.join(SHAPES)}", file=sys.stderr)
            return 2
        dname = DEFAULT_DTYPE[shape] if args.dtype == "auto" else args.dtype
        if device.type == "cpu" and dname != "fp32":
            dname = "fp32"  # half-precision matmuls are not available on every CPU build
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dname]
        t0 = time.perf_counter()
        head = build(shape, device, dtype, args.top_k)
        params = sum(p.numel() for p in head.parameters())
        print(f"{shape}: {params / 1e6:.1f}M parameters, {dname}, built in {time.perf_counter() - t0:.1f}s")
        for window in [int(w) for w in args.windows.split(",") if w]:
            canvas = args.canvas or max(1, min(window // 4, 128))
            r = measure(head, window, canvas, args.steps, args.warmup, device)
            r.update({"shape": shape, "dtype": dname, "parameters": params,
                      "tokens_per_s_1_per_step": 1000.0 / r["ms_per_step"],
                      f"tokens_per_s_{args.commits_per_step:g}_per_step": args.commits_per_step * 1000.0 / r["ms_per_step"]})  # fmt: skip
            if device.type == "cuda":
                r["peak_mem_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
            print(f"  W={window:5d} canvas={r['canvas']:4d}: {r['ms_per_step']:8.2f} ms/step (p50 {r['ms_per_step_p50']:.2f}), "
                  f"{r['tokens_per_s_1_per_step']:7.1f} tok/s at 1/step")  # fmt: skip
            rows.append(r)
        del head
        if device.type == "cuda":
            torch.cuda.empty_cache()
    result = {"info": info, "rows": rows}
    if args.compare_transformers:
        result["transformers_comparison"] = compare_transformers(device)
        print(json.dumps(result["transformers_comparison"], indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
