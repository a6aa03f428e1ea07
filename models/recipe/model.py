"""The diffusion denoiser: a bidirectional pre-LayerNorm transformer encoder with rotary positions.

No time input (the optimal absorbing-diffusion denoiser does not depend on t); output row i predicts token i (no
logit shift). The input and output embeddings are tied.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    vocab_size: int = 8192
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    mlp_ratio: int = 4
    max_length: int = 1024
    rope_theta: float = 10000.0

    def to_dict(self) -> dict:
        return asdict(self)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """torch.log_softmax written out, in its numerically stable form (x - max) - log(sum(exp(x - max))).

    Exports as ReduceMax, Sub, Exp, ReduceSum, Log, Sub: ONNX Runtime's WebGPU execution provider has no LogSoftmax
    kernel (onnxruntime-node 1.30), and a LogSoftmax node would run on the CPU provider, copying the rows' logits
    off the adapter and back every step (models/recipe/webgpu_ops.py). Equal to torch.log_softmax within float
    rounding; only the exported head uses it (training's cross-entropy is F.cross_entropy).
    """
    z = x - x.amax(dim, keepdim=True)
    return z - z.exp().sum(dim, keepdim=True).log()


def rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(cfg.hidden)
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden)
        self.proj = nn.Linear(cfg.hidden, cfg.hidden)
        self.ln2 = nn.LayerNorm(cfg.hidden)
        self.fc1 = nn.Linear(cfg.hidden, cfg.mlp_ratio * cfg.hidden)
        self.fc2 = nn.Linear(cfg.mlp_ratio * cfg.hidden, cfg.hidden)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, fused: bool) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rotary(q, cos, sin), rotary(k, cos, sin)
        if fused:
            att = F.scaled_dot_product_attention(q, k, v)  # bidirectional: no mask, not causal
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
            att = torch.matmul(torch.softmax(scores, dim=-1), v)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class DiffusionEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig, mask_id: int = 1):
        super().__init__()
        self.cfg = cfg
        self.mask_id = mask_id
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.hidden)
        head_dim = cfg.hidden // cfg.heads
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        # True at the mask token: a constant of the exported graph (an int64 arange compared per call would run on
        # the CPU provider under WebGPU, which has no int64 kernels).
        self.register_buffer("is_mask", torch.arange(cfg.vocab_size) == mask_id, persistent=False)
        # Fused attention only where PyTorch has it (2.x) and never in ONNX export (explicit softmax exports cleanly).
        self.fused_attention = hasattr(F, "scaled_dot_product_attention")
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        n = input_ids.shape[1]
        t = torch.arange(n, device=input_ids.device, dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq)
        cos, sin = freqs.cos()[None, None], freqs.sin()[None, None]
        x = self.embed(input_ids)
        fused = self.fused_attention and not torch.onnx.is_in_onnx_export()
        for block in self.blocks:
            x = block(x, cos.to(x.dtype), sin.to(x.dtype), fused)
        return self.ln_f(x)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        return torch.matmul(h, self.embed.weight.t())

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Full logits [batch, length, vocab] (training uses hidden_states + project on masked rows only)."""
        return self.project(self.hidden_states(input_ids))

    def positions_head(self, input_ids: torch.Tensor, positions: torch.Tensor, k: int):
        """Top-k ids, their probabilities and the entropy for the requested rows only (docs/model-format.md)."""
        h = self.hidden_states(input_ids)
        index = positions.unsqueeze(-1).expand(-1, -1, h.shape[-1])
        rows = torch.gather(h, 1, index)
        logits = self.project(rows).float()
        # The mask token is never a prediction. -1e9 rather than -inf keeps p*log(p) finite (0 * -1e9 = 0). A scalar,
        # not full_like: ConstantOfShape has no WebGPU kernel and would build [b, n, vocab] on the host every step.
        logits = logits.masked_fill(self.is_mask, -1e9)
        logp = log_softmax(logits, dim=-1)
        probs = logp.exp()
        entropy = -(probs * logp).sum(-1)
        topk_probs, topk_ids = torch.topk(probs, k, dim=-1)
        return topk_ids, topk_probs, entropy


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
