"""Tiny random-weight checkpoints in the real Hugging Face layouts, exported, with PyTorch reference outputs.

    /usr/bin/python3 -m models.export.tiny --out test-artifacts/exported

writes, for every variant below, `OUT/checkpoints/<name>/` (config.json, tokenizer.json, tokenizer_config.json,
safetensors with the tensor names and config keys of the real family) and `OUT/<name>/` (the converted model
folder plus `reference.json`: inputs and the PyTorch module's outputs for both graph contracts). The Python
tests (test/python/test_export.py) and the Node tests (test/unit/exported-models.test.ts) both use them.

Variants:
  dream-tiny        model_type "Dream", Qwen2 names, q/k/v biases, GQA, BF16 shards + index, untied head,
                    config vocab padded beyond the tokenizer (head trimmed), shifted.
  opendcoder-tiny   model_type "qwen2", tied embeddings, F32 single file, mask from tokenizer_config only,
                    exported with --fp16.
  llada-tiny        model_type "llada", LLaDA/OLMo tensor names (model.transformer.blocks.N.*), F16, unshifted.
  llama-tiny        model_type "llama", HF LLaMA names, GQA, external-data file forced.
  dream-fp16c       dream-tiny's checkpoint exported with --fp16-compute (float16 matmuls, for CUDA).
  dream-chain       shifted model with hand-set weights: output row r predicts the letter after input token r
                    (a->b, ..., z->a) with near-certainty, and anything else (including the mask) uniformly.
                    Through the engine's shift, a masked canvas after "a" must fill as "bcd...": this pins
                    that the prediction for position i comes from row i-1.
  qwen3-tiny        dllm Tiny-A2D layout: model_type "a2d-qwen3", Qwen3-0.6B's config fields, q_norm / k_norm,
                    head_dim 16 != hidden / heads, no q/k/v bias, tied, BF16, mask from tokenizer_config, unshifted.
  qwen3-untied-fp16 the same with an untied head, exported with --dtype fp16.
  a2d-qwen2-tiny    Qwen2.5-Coder A2D layout: model_type "a2d-qwen2" (Qwen2 path, biases, tied), unshifted.
  <family>-int8/-int4  dream, qwen3 (untied), a2d-qwen2, llada and llama exported with --dtype int8 / int4; the
                    reference is the PyTorch module with the same quantise-dequantise applied to its weights.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
from typing import Dict, List, Optional

import numpy as np
import torch

from ..recipe.bpe import bytes_to_unicode  # the same GPT-2 byte alphabet our own tokenizer uses
from .checkpoint import inspect_checkpoint, load_state_dict
from .convert import convert
from .modeling import DiffusionLM, FullLogits, PositionsTopK, simulate_int8_activations
from .safetensors_io import save_file, save_sharded

N_BYTES = 256


def tokenizer_json(specials: List[str]) -> dict:
    """Byte-level BPE without merges: token id = byte value, then the special tokens."""
    alphabet = bytes_to_unicode()
    vocab = {alphabet[b]: b for b in range(N_BYTES)}
    added = [
        {
            "id": N_BYTES + i,
            "content": s,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, s in enumerate(specials)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [],
        },
    }


DREAM_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|beginoftext|>", "<|mask|>"]
LLADA_SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|eot_id|>", "<|mdm_mask|>"]


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)


def _hf_tensors(cfg: dict, rng: np.random.Generator, names: str, tied: bool, qkv_bias: bool) -> Dict[str, np.ndarray]:
    """Random weights with the real tensor names. `names` is 'hf' (Qwen2/LLaMA) or 'llada'."""
    if names == "llada":
        h, layers, heads = cfg["d_model"], cfg["n_layers"], cfg["n_heads"]
        kv, inter, vocab = cfg["n_kv_heads"], cfg["mlp_hidden_size"], cfg["embedding_size"]
    else:
        h, layers, heads = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
        kv, inter, vocab = cfg["num_key_value_heads"], cfg["intermediate_size"], cfg["vocab_size"]
    d = cfg.get("head_dim") or h // heads
    qk_norm = "qwen3" in str(cfg.get("model_type", ""))

    def w(*shape, scale=None):
        fan_in = shape[-1]
        return (rng.standard_normal(shape) * (scale if scale is not None else 1.0 / np.sqrt(fan_in))).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    t: Dict[str, np.ndarray] = {}
    if names == "llada":
        t["model.transformer.wte.weight"] = w(vocab, h, scale=1.0)
        for i in range(layers):
            p = f"model.transformer.blocks.{i}."
            t[p + "attn_norm.weight"] = norm(h)
            t[p + "ff_norm.weight"] = norm(h)
            t[p + "q_proj.weight"] = w(heads * d, h)
            t[p + "k_proj.weight"] = w(kv * d, h)
            t[p + "v_proj.weight"] = w(kv * d, h)
            t[p + "attn_out.weight"] = w(h, heads * d)
            t[p + "ff_proj.weight"] = w(inter, h)
            t[p + "up_proj.weight"] = w(inter, h)
            t[p + "ff_out.weight"] = w(h, inter)
        t["model.transformer.ln_f.weight"] = norm(h)
        if not tied:
            t["model.transformer.ff_out.weight"] = w(vocab, h, scale=0.5)
        return t
    t["model.embed_tokens.weight"] = w(vocab, h, scale=1.0)
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm(h)
        t[p + "post_attention_layernorm.weight"] = norm(h)
        t[p + "self_attn.q_proj.weight"] = w(heads * d, h)
        t[p + "self_attn.k_proj.weight"] = w(kv * d, h)
        t[p + "self_attn.v_proj.weight"] = w(kv * d, h)
        if qkv_bias:
            t[p + "self_attn.q_proj.bias"] = w(heads * d, scale=0.1)
            t[p + "self_attn.k_proj.bias"] = w(kv * d, scale=0.1)
            t[p + "self_attn.v_proj.bias"] = w(kv * d, scale=0.1)
        t[p + "self_attn.o_proj.weight"] = w(h, heads * d)
        if qk_norm:
            t[p + "self_attn.q_norm.weight"] = norm(d)
            t[p + "self_attn.k_norm.weight"] = norm(d)
        t[p + "mlp.gate_proj.weight"] = w(inter, h)
        t[p + "mlp.up_proj.weight"] = w(inter, h)
        t[p + "mlp.down_proj.weight"] = w(h, inter)
    t["model.norm.weight"] = norm(h)
    if not tied:
        t["lm_head.weight"] = w(vocab, h, scale=0.5)
    return t


def qwen2_config(model_type: str, vocab: int, tied: bool, **over) -> dict:
    cfg = {
        "architectures": ["DreamModel"] if model_type == "Dream" else ["Qwen2ForCausalLM"],
        "model_type": model_type,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "rope_scaling": None,
        "tie_word_embeddings": tied,
        "torch_dtype": "bfloat16",
        "use_sliding_window": False,
        "vocab_size": vocab,
        "attention_dropout": 0.0,
    }
    cfg.update(over)
    return cfg


def write_dream(ckpt: str, seed: int = 1) -> None:
    os.makedirs(ckpt, exist_ok=True)
    ids = {s: N_BYTES + i for i, s in enumerate(DREAM_SPECIALS)}
    cfg = qwen2_config(
        "Dream",
        vocab=N_BYTES + len(DREAM_SPECIALS) + 7,  # padded beyond the tokenizer, like Qwen2.5's 152064
        tied=False,
        mask_token_id=ids["<|mask|>"],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|beginoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
    )
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(DREAM_SPECIALS))
    _write_json(
        os.path.join(ckpt, "tokenizer_config.json"),
        {"bos_token": "<|beginoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>"},
    )
    tensors = _hf_tensors(cfg, np.random.default_rng(seed), "hf", tied=False, qkv_bias=True)
    save_sharded(tensors, ckpt, shards=2, dtype="BF16")


def write_opendcoder(ckpt: str, seed: int = 2) -> None:
    os.makedirs(ckpt, exist_ok=True)
    cfg = qwen2_config("qwen2", vocab=N_BYTES + len(DREAM_SPECIALS), tied=True, num_key_value_heads=1, torch_dtype="float32")
    cfg["eos_token_id"] = N_BYTES  # <|endoftext|>; no mask_token_id: the mask comes from tokenizer_config
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(DREAM_SPECIALS))
    _write_json(
        os.path.join(ckpt, "tokenizer_config.json"),
        {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>"},
    )
    tensors = _hf_tensors(cfg, np.random.default_rng(seed), "hf", tied=True, qkv_bias=True)
    save_file(tensors, os.path.join(ckpt, "model.safetensors"), dtype="F32")


def write_llada(ckpt: str, seed: int = 3) -> None:
    os.makedirs(ckpt, exist_ok=True)
    ids = {s: N_BYTES + i for i, s in enumerate(LLADA_SPECIALS)}
    vocab = N_BYTES + len(LLADA_SPECIALS)
    cfg = {
        "activation_type": "silu",
        "alibi": False,
        "architectures": ["LLaDAModelLM"],
        "block_type": "llama",
        "d_model": 32,
        "embedding_size": vocab,
        "eos_token_id": ids["<|endoftext|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "mask_token_id": ids["<|mdm_mask|>"],
        "include_bias": False,
        "include_qkv_bias": False,
        "layer_norm_type": "rms",
        "max_sequence_length": 4096,
        "mlp_hidden_size": 48,
        "mlp_ratio": 4,
        "model_type": "llada",
        "n_heads": 4,
        "n_kv_heads": 4,
        "n_layers": 2,
        "rms_norm_eps": 1e-5,
        "rope": True,
        "rope_theta": 500000.0,
        "scale_logits": False,
        "vocab_size": vocab,
        "weight_tying": False,
    }
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(LLADA_SPECIALS))
    _write_json(
        os.path.join(ckpt, "tokenizer_config.json"),
        {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
    )
    tensors = _hf_tensors(cfg, np.random.default_rng(seed), "llada", tied=False, qkv_bias=False)
    save_file(tensors, os.path.join(ckpt, "model.safetensors"), dtype="F16")


def write_llama(ckpt: str, seed: int = 4) -> None:
    os.makedirs(ckpt, exist_ok=True)
    ids = {s: N_BYTES + i for i, s in enumerate(LLADA_SPECIALS)}
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 3,
        "num_attention_heads": 6,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "vocab_size": N_BYTES + len(LLADA_SPECIALS),
        "bos_token_id": ids["<|startoftext|>"],
        "eos_token_id": [ids["<|endoftext|>"], ids["<|eot_id|>"]],
        "mask_token_id": ids["<|mdm_mask|>"],
    }
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(LLADA_SPECIALS))
    tensors = _hf_tensors(cfg, np.random.default_rng(seed), "hf", tied=False, qkv_bias=False)
    save_file(tensors, os.path.join(ckpt, "model.safetensors"), dtype="F32")


QWEN3_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"]
QWEN3_TOKENIZER_CONFIG = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>", "bos_token": None}


def qwen3_config(tied: bool, **over) -> dict:
    """Qwen3-0.6B's config.json field for field (names and every non-size value as published), at tiny sizes,
    with dllm's A2D model_type / architectures. head_dim is NOT hidden / heads, as in Qwen3-0.6B (128 vs 64)."""
    cfg = {
        "architectures": ["A2DQwen3LMHeadModel"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": N_BYTES,
        "eos_token_id": N_BYTES + 2,
        "head_dim": 16,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "max_position_embeddings": 40960,
        "max_window_layers": 2,
        "model_type": "a2d-qwen3",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": tied,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
        "use_cache": False,
        "use_sliding_window": False,
        "vocab_size": N_BYTES + len(QWEN3_SPECIALS),
    }
    cfg.update(over)
    return cfg


def write_qwen3(ckpt: str, seed: int = 6, tied: bool = True) -> None:
    """dllm Tiny-A2D layout: model_type a2d-qwen3; the mask token comes from tokenizer_config.json."""
    os.makedirs(ckpt, exist_ok=True)
    cfg = qwen3_config(tied)
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(QWEN3_SPECIALS))
    _write_json(os.path.join(ckpt, "tokenizer_config.json"), QWEN3_TOKENIZER_CONFIG)
    tensors = _hf_tensors(cfg, np.random.default_rng(seed), "hf", tied=tied, qkv_bias=False)
    save_file(tensors, os.path.join(ckpt, "model.safetensors"), dtype="BF16")


def write_qwen3_untied(ckpt: str, seed: int = 7) -> None:
    write_qwen3(ckpt, seed, tied=False)


def write_a2d_qwen2(ckpt: str, seed: int = 8) -> None:
    """Qwen2.5-Coder-0.5B-Instruct A2D layout (dllm): Qwen2 config (tied, q/k/v biases), model_type a2d-qwen2."""
    os.makedirs(ckpt, exist_ok=True)
    cfg = qwen2_config("a2d-qwen2", vocab=N_BYTES + len(QWEN3_SPECIALS), tied=True, intermediate_size=80)
    cfg["architectures"] = ["A2DQwen2LMHeadModel"]
    cfg["bos_token_id"], cfg["eos_token_id"] = N_BYTES, N_BYTES + 2
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(QWEN3_SPECIALS))
    _write_json(
        os.path.join(ckpt, "tokenizer_config.json"),
        {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>"},
    )
    tensors = _hf_tensors(cfg, np.random.default_rng(seed), "hf", tied=True, qkv_bias=True)
    save_file(tensors, os.path.join(ckpt, "model.safetensors"), dtype="BF16")


CHAIN_SCALE = 3.0


def chain_successor(token: int) -> Optional[int]:
    """The letter the chain model predicts after `token` (a->b ... z->a), or None (uniform)."""
    if ord("a") <= token <= ord("z"):
        return ord("a") + (token - ord("a") + 1) % 26
    return None


def write_chain(ckpt: str, seed: int = 5) -> None:
    """Shifted model whose output row r depends only on input token r: residual path only (o_proj = down_proj = 0)."""
    os.makedirs(ckpt, exist_ok=True)
    ids = {s: N_BYTES + i for i, s in enumerate(DREAM_SPECIALS)}
    h = 64
    cfg = qwen2_config(
        "Dream",
        vocab=N_BYTES + len(DREAM_SPECIALS),
        tied=False,
        hidden_size=h,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        mask_token_id=ids["<|mask|>"],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|beginoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
    )
    _write_json(os.path.join(ckpt, "config.json"), cfg)
    _write_json(os.path.join(ckpt, "tokenizer.json"), tokenizer_json(DREAM_SPECIALS))
    rng = np.random.default_rng(seed)
    t = _hf_tensors(cfg, rng, "hf", tied=False, qkv_bias=True)
    vocab = cfg["vocab_size"]
    q, _ = np.linalg.qr(rng.standard_normal((h, h)))
    emb = np.zeros((vocab, h), np.float32)
    head = np.zeros((vocab, h), np.float32)
    for i in range(26):
        letter = ord("a") + i
        emb[letter] = q[i]
        head[chain_successor(letter)] = CHAIN_SCALE * q[i]
    for tok in range(vocab):  # everything else: orthogonal to all letter directions -> uniform prediction
        if not ord("a") <= tok <= ord("z") and tok != ids["<|mask|>"]:
            emb[tok] = q[26 + tok % (h - 26)]
    # the mask's embedding stays 0: RMSNorm maps it to 0, so all its logits are 0 (uniform, low confidence)
    t["model.embed_tokens.weight"] = emb
    t["lm_head.weight"] = head
    t["model.norm.weight"] = np.ones(h, np.float32)
    t["model.layers.0.self_attn.o_proj.weight"][:] = 0.0
    t["model.layers.0.mlp.down_proj.weight"][:] = 0.0
    save_file(t, os.path.join(ckpt, "model.safetensors"), dtype="F32")


VARIANTS = {
    "dream-tiny": (write_dream, {}),
    "opendcoder-tiny": (write_opendcoder, {"fp16": True}),
    "llada-tiny": (write_llada, {}),
    "llama-tiny": (write_llama, {"external_data": "always", "top_k": 5}),
    "dream-chain": (write_chain, {}),
    "dream-fp16c": (write_dream, {"fp16_compute": True}),
    "qwen3-tiny": (write_qwen3, {}),
    "qwen3-untied-fp16": (write_qwen3_untied, {"dtype": "fp16"}),
    "a2d-qwen2-tiny": (write_a2d_qwen2, {}),
}
# Every family at the quantised dtypes (fp32 and fp16 are covered above): ORT vs the PyTorch module with the same
# quantise-dequantise applied to its weights.
for _family, _writer in [("dream", write_dream), ("qwen3", write_qwen3_untied), ("a2d-qwen2", write_a2d_qwen2),
                         ("llada", write_llada), ("llama", write_llama)]:  # fmt: skip
    for _dtype in ("int8", "int4"):
        VARIANTS[f"{_family}-{_dtype}"] = (_writer, {"dtype": _dtype})


def reference_inputs(name: str, vocab: int, mask: int, rng: np.random.Generator) -> List[dict]:
    """Two cases: batch 2 x length 12 with masks, and batch 1 x length 5 (dynamic shapes)."""
    cases = []
    if name == "dream-chain":
        text = [ord(c) for c in "abcxyz"] + [mask] * 4 + [ord("q"), ord(" ")]
        ids = np.array([text, [ord("m")] + [mask] * 10 + [ord("k")]], dtype=np.int64)
    else:
        ids = rng.integers(0, vocab, size=(2, 12)).astype(np.int64)
        ids[ids == mask] = 0
        ids[:, 4:9] = mask
        ids[1, 10] = mask
    cases.append({"input_ids": ids, "positions": np.array([[3, 4, 5, 8, 11], [0, 4, 9, 10, 2]], dtype=np.int64)})
    ids2 = rng.integers(0, vocab, size=(1, 5)).astype(np.int64)
    ids2[ids2 == mask] = 1
    ids2[0, 2] = mask
    cases.append({"input_ids": ids2, "positions": np.array([[0, 1, 2, 3, 4, 2]], dtype=np.int64)})
    return cases


def _jsonable(x: np.ndarray):
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return [_jsonable(v) for v in x] if x.ndim else (None if np.isneginf(x) else float(x))
    return x.tolist()


def pytorch_reference(spec, dtype: str, top_k: int, cases: List[dict]) -> List[dict]:
    lm = DiffusionLM(spec.arch).eval()
    lm.load_state_dict(load_state_dict(spec, dtype=dtype), strict=True)
    head = PositionsTopK(lm, spec.special.mask, top_k).eval()
    full = FullLogits(lm, spec.special.mask).eval()
    out = []
    sim = simulate_int8_activations() if dtype == "int8" else contextlib.nullcontext()
    with torch.no_grad(), sim:
        for case in cases:
            ids = torch.from_numpy(case["input_ids"])
            pos = torch.from_numpy(case["positions"])
            topk_ids, topk_probs, entropy = head(ids, pos)
            logits = full(ids)
            out.append(
                {
                    "input_ids": case["input_ids"].tolist(),
                    "positions": case["positions"].tolist(),
                    "topk_ids": topk_ids.numpy().tolist(),
                    "topk_probs": _jsonable(topk_probs.numpy()),
                    "entropy": _jsonable(entropy.numpy()),
                    "logits": _jsonable(logits.numpy()),
                }
            )
    return out


def build(name: str, root: str, quiet: bool = True) -> str:
    """Writes the checkpoint, converts it and saves reference.json; returns the model folder."""
    writer, options = VARIANTS[name]
    ckpt = os.path.join(root, "checkpoints", name)
    model_dir = os.path.join(root, name)
    for d in (ckpt, model_dir):
        if os.path.isdir(d):
            shutil.rmtree(d)
    writer(ckpt)
    opts = {"top_k": 4, "full_logits": True, "max_length": 64, "name": name}
    opts.update(options)
    log = (lambda _m: None) if quiet else print
    manifest = convert(ckpt, model_dir, log=log, **opts)
    spec = inspect_checkpoint(ckpt)
    rng = np.random.default_rng(11)
    cases = reference_inputs(name, spec.arch.vocab_size, spec.special.mask, rng)
    dtype = str(opts.get("dtype") or ("fp16" if opts.get("fp16") or opts.get("fp16_compute") else "fp32"))
    fp16 = dtype == "fp16"
    ref = {
        "model": name,
        "dtype": dtype,
        "fp16_weights": fp16,
        "fp16_compute": bool(opts.get("fp16_compute", False)),
        "logit_shift": manifest["logit_shift"],
        "mask": spec.special.mask,
        "top_k": manifest["top_k"],
        "cases": pytorch_reference(spec, dtype, manifest["top_k"], cases),
    }
    if name == "dream-chain":
        ref["chain"] = {chr(c): chr(chain_successor(c)) for c in range(ord("a"), ord("z") + 1)}  # type: ignore[arg-type]
    _write_json(os.path.join(model_dir, "reference.json"), ref)
    return model_dir


def build_all(root: str, quiet: bool = True) -> Dict[str, str]:
    os.makedirs(root, exist_ok=True)
    out = {name: build(name, root, quiet) for name in VARIANTS}
    with open(os.path.join(root, "README.txt"), "w", encoding="utf-8") as f:
        f.write("Generated by `/usr/bin/python3 -m models.export.tiny`; safe to delete.\n")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="build the tiny exported test models")
    p.add_argument("--out", default=os.path.join("test-artifacts", "exported"))
    p.add_argument("--only", action="append", choices=sorted(VARIANTS), help="build only these variants")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.only:
        for name in args.only:
            print(build(name, args.out, quiet=not args.verbose))
    else:
        for folder in build_all(args.out, quiet=not args.verbose).values():
            print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
