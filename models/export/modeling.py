"""Qwen2 / Qwen3 / LLaMA-style transformer in plain PyTorch with BIDIRECTIONAL attention.

This is the network of every diffusion LM we convert (Dream family and Open-dCoder are Qwen2, LLaDA is
LLaMA-like, dllm's A2D conversions are Qwen2 / Qwen3): token embedding, N x [RMSNorm -> attention with RoPE and grouped-query heads -> residual ->
RMSNorm -> SwiGLU MLP -> residual], final RMSNorm (Qwen3 adds a per-head RMSNorm on q and k), LM head. The only change from the autoregressive
originals is that there is no causal mask and no attention mask at all: every row sees every token.

Parameter names follow Hugging Face's Qwen2/LLaMA checkpoints (`model.layers.N.self_attn.q_proj.weight`,
...), so a state dict loads by name; LLaDA's OLMo-style names are mapped in `checkpoint.py`.

The heads (`PositionsTopK`, `FullLogits`) implement the graph contracts of docs/model-format.md.
No logit shift happens here: row i of the output is computed from hidden state i, and the engine maps
token positions to rows (src/engine/shift.ts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


ONNX_FLOAT, ONNX_FLOAT16 = 1, 10


class _CastMarker(torch.autograd.Function):
    """Identity in PyTorch, `Cast(to=...)` in the exported ONNX graph.

    The mixed-precision (`--fp16-compute`) graph is traced in float32 on the CPU (PyTorch 1.13 has no CPU
    half matmuls) and these markers put the casts where they belong: matmuls (including the LM head) in float16;
    RMSNorm, the residual stream, the attention softmax and the head's softmax / top-k / entropy in float32.
    """

    @staticmethod
    def forward(ctx, x, onnx_type: int):
        return x.view_as(x)

    @staticmethod
    def symbolic(g, x, onnx_type: int):
        return g.op("Cast", x, to_i=onnx_type)


def to_half(x: torch.Tensor, mixed: bool) -> torch.Tensor:
    return _CastMarker.apply(x, ONNX_FLOAT16) if mixed else x


def to_float(x: torch.Tensor, mixed: bool) -> torch.Tensor:
    return _CastMarker.apply(x, ONNX_FLOAT) if mixed else x


class _ShapeOnlyMatMulT(torch.autograd.Function):
    """`x @ w.T (+ b)` in the exported graph; zeros of the right shape while tracing.

    The exporter traces with zero-stride placeholder weights (no memory). A real matmul would make each one
    contiguous (and PyTorch 1.13's tracer keeps those copies alive: 2 GB retained for a 0.5B model, an OOM for
    a 7B one), so while tracing only the shapes are computed and `symbolic` emits the real ops."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        return x.new_zeros(tuple(x.shape[:-1]) + (weight.shape[0],))

    @staticmethod
    def symbolic(g, x, weight, bias=None):
        y = g.op("MatMul", x, g.op("Transpose", weight, perm_i=[1, 0]))
        return y if bias is None else g.op("Add", y, bias)


_SHAPE_ONLY = {"on": False}


class shape_only_matmuls:
    """Context for tracing (models/export/onnx_export.py): weight matmuls compute shapes only."""

    def __enter__(self):
        self.saved = _SHAPE_ONLY["on"]
        _SHAPE_ONLY["on"] = True
        return self

    def __exit__(self, *exc):
        _SHAPE_ONLY["on"] = self.saved
        return False


def matmul_t(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    if _SHAPE_ONLY["on"]:
        return _ShapeOnlyMatMulT.apply(x, weight) if bias is None else _ShapeOnlyMatMulT.apply(x, weight, bias)
    return F.linear(x, weight, bias)


_INT8_ACTIVATIONS = {"on": False}


class simulate_int8_activations:
    """Reference runs only (never exported): the layers `--dtype int8` quantises see their input rounded the way
    ONNX Runtime's DynamicQuantizeLinear rounds it (uint8, per tensor, zero point from the min / max)."""

    def __enter__(self):
        self.saved = _INT8_ACTIVATIONS["on"]
        _INT8_ACTIVATIONS["on"] = True
        return self

    def __exit__(self, *exc):
        _INT8_ACTIVATIONS["on"] = self.saved
        return False


def dynamic_quantize(x: torch.Tensor) -> torch.Tensor:
    lo = torch.clamp(x.min(), max=0.0)
    hi = torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / 255.0
    if float(scale) == 0.0:
        return x
    zero = torch.clamp(torch.round(-lo / scale), 0, 255)
    q = torch.clamp(torch.round(x / scale) + zero, 0, 255)
    return (q - zero) * scale


def linear(x: torch.Tensor, layer: nn.Linear, mixed: bool) -> torch.Tensor:
    """`layer(x)`; with `mixed`, weight and bias are marked float16 (x must already be)."""
    if _INT8_ACTIVATIONS["on"]:
        x = dynamic_quantize(x)
    bias = to_half(layer.bias, mixed) if layer.bias is not None else None
    return matmul_t(x, to_half(layer.weight, mixed), bias)


@dataclass
class ArchConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    qkv_bias: bool = False
    tie_word_embeddings: bool = False
    head_dim: Optional[int] = None
    # Qwen3: per-head RMSNorm of q and k (weights [head_dim]) between the projection and RoPE
    qk_norm: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.head_dim is None:
            if self.hidden_size % self.num_heads:
                raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
            self.head_dim = self.hidden_size // self.num_heads
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}")

    def parameter_count(self) -> int:
        h, d, i = self.hidden_size, self.head_dim, self.intermediate_size
        q = h * self.num_heads * d
        kv = 2 * h * self.num_kv_heads * d
        o = self.num_heads * d * h
        bias = (self.num_heads + 2 * self.num_kv_heads) * d if self.qkv_bias else 0
        layer = q + kv + o + bias + 3 * h * i + 2 * h + (2 * d if self.qk_norm else 0)
        emb = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * layer + emb + h


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # float32 statistics even for half inputs (bench/gpu_shapes.py runs the module in fp16); no-ops in export
        dtype = x.dtype
        x = x.float()
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps)).to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Rotary(nn.Module):
    """Non-interleaved RoPE (Hugging Face `rotate_half` convention, also LLaDA's)."""

    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)

    def forward(self, length: torch.Tensor):
        # int64 Range then Cast: ORT's CPU Range kernel has no fp16 variant, so never range in floats.
        t = torch.arange(length, dtype=torch.int64).to(torch.float32)
        freqs = t[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()  # [L, head_dim]


class Attention(nn.Module):
    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.head_dim
        self.groups = cfg.num_heads // cfg.num_kv_heads
        # Only for comparing with autoregressive reference implementations (bench/gpu_shapes.py); never exported.
        self.causal = False
        self.mixed = False  # float16 matmuls in the exported graph (see _CastMarker)
        h = cfg.hidden_size
        self.q_proj = nn.Linear(h, cfg.num_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(h, cfg.num_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(h, cfg.num_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(cfg.num_heads * cfg.head_dim, h, bias=False)
        if cfg.qk_norm:
            self.q_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps)
            self.k_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps)
        self.qk_norm = cfg.qk_norm

    def _head_norm(self, x: torch.Tensor, norm: "RMSNorm") -> torch.Tensor:
        # statistics in float32 also in the --fp16-compute graph (the norm weight is a float32 tensor)
        return to_half(norm(to_float(x, self.mixed)), self.mixed)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, length = x.shape[0], x.shape[1]
        d, kvh, g, mixed = self.head_dim, self.num_kv_heads, self.groups, self.mixed
        x = to_half(x, mixed)
        # q: [B, kvh, g, L, d]; k, v: [B, kvh, 1, L, d]. Query head h uses kv head h // g (HF repeat_kv order).
        q = linear(x, self.q_proj, mixed).view(b, length, kvh, g, d).permute(0, 2, 3, 1, 4)
        k = linear(x, self.k_proj, mixed).view(b, length, kvh, 1, d).permute(0, 2, 3, 1, 4)
        v = linear(x, self.v_proj, mixed).view(b, length, kvh, 1, d).permute(0, 2, 3, 1, 4)
        if self.qk_norm:  # over the last axis (head_dim): the same per-head norm as Qwen3's, before RoPE
            q = self._head_norm(q, self.q_norm)
            k = self._head_norm(k, self.k_norm)
        cos, sin = to_half(cos.to(q.dtype), mixed), to_half(sin.to(q.dtype), mixed)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = to_float(torch.matmul(q, k.transpose(-1, -2)), mixed) * (1.0 / math.sqrt(d))
        # Bidirectional: no causal mask, no padding mask.
        if self.causal:
            scores = scores + torch.full((length, length), float("-inf"), device=x.device).triu(1).to(scores.dtype)
        probs = to_half(torch.softmax(scores.float(), dim=-1).to(v.dtype), mixed)
        out = torch.matmul(probs, v)  # [B, kvh, g, L, d]
        out = out.permute(0, 3, 1, 2, 4).reshape(b, length, self.num_heads * d)
        return to_float(linear(out, self.o_proj, mixed), mixed)


class MLP(nn.Module):
    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)
        self.mixed = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.mixed
        x = to_half(x, m)
        hidden = F.silu(linear(x, self.gate_proj, m)) * linear(x, self.up_proj, m)
        return to_float(linear(hidden, self.down_proj, m), m)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class DiffusionLM(nn.Module):
    """Hidden states and LM-head projection; the ONNX heads below wrap it."""

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.rotary = Rotary(cfg.head_dim, cfg.rope_theta)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.mixed = False

    def set_fp16_compute(self, on: bool) -> None:
        """Export float16 matmuls (weights stored float16, no casts); norms/softmax/head maths stay float32."""
        self.mixed = on
        for layer in self.model.layers:
            layer.self_attn.mixed = on
            layer.mlp.mixed = on

    def hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = to_float(F.embedding(input_ids, to_half(self.model.embed_tokens.weight, self.mixed)), self.mixed)
        cos, sin = self.rotary(input_ids.shape[1])
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.model.norm(x)

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        weight = self.model.embed_tokens.weight if self.cfg.tie_word_embeddings else self.lm_head.weight
        m = self.mixed
        return to_float(matmul_t(to_half(hidden, m), to_half(weight, m)), m)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.project(self.hidden_states(input_ids))


def mask_bias(vocab_size: int, mask_id: int) -> torch.Tensor:
    bias = torch.zeros(vocab_size)
    bias[mask_id] = float("-inf")
    return bias


class PositionsTopK(nn.Module):
    """`positions_topk` contract: only the requested rows are projected onto the vocabulary."""

    def __init__(self, lm: DiffusionLM, mask_id: int, top_k: int):
        super().__init__()
        self.lm = lm
        self.top_k = top_k
        self.register_buffer("mask_bias", mask_bias(lm.cfg.vocab_size, mask_id), persistent=False)
        keep = torch.ones(lm.cfg.vocab_size)
        keep[mask_id] = 0.0
        self.register_buffer("keep", keep, persistent=False)

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor):
        hidden = self.lm.hidden_states(input_ids)  # [B, L, H]
        index = positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        rows = torch.gather(hidden, 1, index)  # [B, n, H]: gathered BEFORE the LM head
        raw = self.lm.project(rows).float()  # [B, n, V]
        logits = raw + self.mask_bias  # mask token: -inf
        lse = torch.logsumexp(logits, dim=-1)
        probs = torch.exp(logits - lse.unsqueeze(-1))
        # H = lse - sum p * z, with the mask's z replaced by 0 (its p is exactly 0; avoids 0 * -inf).
        entropy = lse - (probs * (raw * self.keep)).sum(-1)
        topk_probs, topk_ids = torch.topk(probs, self.top_k, dim=-1)
        return topk_ids, topk_probs, entropy


class FullLogits(nn.Module):
    """`full_logits` contract: logits [B, L, V] with the mask token's logit at -inf."""

    def __init__(self, lm: DiffusionLM, mask_id: int):
        super().__init__()
        self.lm = lm
        self.register_buffer("mask_bias", mask_bias(lm.cfg.vocab_size, mask_id), persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids).float() + self.mask_bias
