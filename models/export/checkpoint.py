"""Reads a local Hugging Face checkpoint folder: config.json, tokenizer files and safetensors weights.

Decides, from the checkpoint alone (no hub access, no remote code):
  - the architecture (`ArchConfig`) and which checkpoint tensor feeds each parameter of our module,
  - the logit shift convention from `model_type`,
  - the special tokens (mask / pad / end / eos / bos) from config.json, tokenizer_config.json and the
    added tokens of tokenizer.json, each checked to exist in tokenizer.json.

Families:
  qwen2, dream        Qwen2 layout (q/k/v biases), `shifted` logits (Dream-7B, Dream-Coder, DiffuCoder, DreamOn,
                      Open-dCoder). Hugging Face tensor names.
  llada               LLaDA's OLMo-style names (model.transformer.blocks.N.q_proj ...), no shift, mask 126336.
  llama               LLaMA layout with Hugging Face names; no shift unless --logit-shift says otherwise (use it
                      for a LLaDA checkpoint that was re-saved with LLaMA names).
  qwen3               Qwen3 layout: no q/k/v bias, per-head q_norm / k_norm, `head_dim` and `rope_theta` from config,
                      tied or untied head. dllm's Tiny-A2D MDLM conversions (model_type "a2d-qwen3").
  a2d-qwen2/-llama    dllm's A2D conversions of Qwen2.5(-Coder) / LLaMA: the qwen2 / llama paths.

Logit shift, in this order (the first that applies wins; written down in docs/byo-model.md):
  1. --logit-shift none|shifted;
  2. config.json `right_shift_logits` (bool; dllm's trainer / sampler option name) or `logit_shift` ("none"|"shifted");
  3. the family: Dream / qwen2 (Dream-style and Open-dCoder training) shifted; llada, a2d-* (dllm's MDLM trainer
     default `right_shift_logits=False`), qwen3 and llama none.

Block-diffusion checkpoints (bd3lm, SDAR, Fast-dLLM v2, LLaDA 2.x, anything whose config carries a block size) are
refused: they attend causally across blocks, so exported as a full-attention infiller they would see a suffix they
were never trained to see, and infill badly without any error.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .modeling import ArchConfig
from .safetensors_io import Checkpoint, SafetensorsError


class ConversionError(Exception):
    """A problem with the checkpoint the user can fix; the message names the file / field / tensor.

    `kind` lets the VS Code command pick its message: arch (unsupported / block diffusion), shard (missing or
    truncated weight file), pickle, vocab (tokenizer/model mismatch), config (absurd or broken), input (other)."""

    def __init__(self, message: str, kind: str = "input"):
        super().__init__(message)
        self.kind = kind


SHIFT_BY_FAMILY = {"qwen2": "shifted", "dream": "shifted", "llada": "none", "llama": "none", "qwen3": "none"}
# model_type (lower case) -> (family, default logit shift)
SUPPORTED_MODEL_TYPES = {
    "qwen2": ("qwen2", "shifted"),
    "dream": ("dream", "shifted"),
    "llada": ("llada", "none"),
    "llama": ("llama", "none"),
    "qwen3": ("qwen3", "none"),
    # dllm A2D (AR-to-diffusion) MDLM conversions: the AR architecture unchanged, trained unshifted
    "a2d-qwen3": ("qwen3", "none"),
    "a2d-qwen2": ("qwen2", "none"),
    "a2d-llama": ("llama", "none"),
}
# Words in model_type / architectures / _name_or_path / the folder name that mark a block-diffusion model.
BLOCK_DIFFUSION_MARKERS = ["bd3lm", "bd3-lm", "sdar", "fast_dllm", "fast-dllm", "fastdllm", "llada2", "blockdiff",
                           "block_diffusion", "block-diffusion"]  # fmt: skip
BLOCK_DIFFUSION_FIELDS = ["block_size", "bd_size", "block_length", "diffusion_block_size"]
# Configs whose sizes exceed these are refused before anything is allocated (a typo or a hostile file).
LIMITS = {"vocab_size": 1_000_000, "hidden_size": 65_536, "num_layers": 512, "num_heads": 1024,
          "intermediate_size": 262_144, "head_dim": 1024, "parameters": 200e9}  # fmt: skip
MASK_TOKEN_NAMES = ["<|mask|>", "<|mdm_mask|>", "<mask>", "[MASK]", "<|MASK|>"]
CODE_LANGUAGES = [
    "python", "javascript", "typescript", "javascriptreact", "typescriptreact", "java", "c", "cpp", "csharp",
    "go", "rust", "php", "ruby", "shellscript", "sql", "kotlin", "swift", "scala", "lua", "html", "css", "json",
    "yaml", "markdown",
]  # fmt: skip


@dataclass
class SpecialTokens:
    mask: int
    pad: int
    end: int
    eos: Optional[int] = None
    bos: Optional[int] = None

    def to_json(self) -> dict:
        out = {"mask": self.mask, "pad": self.pad, "end": self.end}
        if self.eos is not None:
            out["eos"] = self.eos
        if self.bos is not None:
            out["bos"] = self.bos
        return out


@dataclass
class CheckpointSpec:
    directory: str
    family: str
    model_type: str
    arch: ArchConfig
    config_vocab_size: int
    logit_shift: str
    special: SpecialTokens
    tokenizer_path: str
    tokenizer_vocab: int
    max_position_embeddings: Optional[int]
    # module parameter name (as in DiffusionLM.named_parameters()) -> checkpoint tensor name
    sources: Dict[str, str] = field(default_factory=dict)
    checkpoint: Optional[Checkpoint] = None
    notes: List[str] = field(default_factory=list)

    def load(self, param: str, dtype=np.float32) -> np.ndarray:
        """The checkpoint tensor for module parameter `param`, as float32, vocabulary rows trimmed."""
        assert self.checkpoint is not None
        arr = self.checkpoint.get(self.sources[param], np.float32)
        if param in ("model.embed_tokens.weight", "lm_head.weight"):
            arr = arr[: self.arch.vocab_size]
        return np.ascontiguousarray(arr, dtype=dtype)


def _read_json(path: str, what: str) -> dict:
    if not os.path.isfile(path):
        raise ConversionError(f"missing {what}: {path}")
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ConversionError(f"{path}: cannot read {what} ({e})") from e


def _get(config: dict, path: str, *keys: str, default=None, required: bool = True):
    for k in keys:
        if k in config and config[k] is not None:
            return config[k]
    if required and default is None:
        raise ConversionError(f"{path}: missing field {' / '.join(repr(k) for k in keys)}")
    return default


def refuse_block_diffusion(config: dict, path: str, directory: str) -> None:
    """Block-diffusion models see only earlier blocks: exporting them as full-attention infillers is wrong."""
    names = [str(config.get("model_type", "")), str(config.get("_name_or_path", "")), os.path.basename(
        os.path.normpath(directory))] + [str(a) for a in (config.get("architectures") or [])]  # fmt: skip
    for name in names:
        low = name.lower()
        for marker in BLOCK_DIFFUSION_MARKERS:
            if marker in low:
                raise ConversionError(
                    f"{path}: {name!r} is a block-diffusion model ({marker}): it attends causally across blocks and "
                    "never sees the text after the hole, so it cannot infill; use a full-attention (MDLM-style) "
                    "checkpoint such as Qwen3-0.6B-diffusion-mdlm, Open-dCoder or Dream",
                    "block",
                )
    for key in BLOCK_DIFFUSION_FIELDS:
        if config.get(key):
            raise ConversionError(
                f"{path}: field {key!r} = {config[key]!r} marks a block-diffusion model: it attends causally across "
                "blocks and never sees the text after the hole, so it cannot infill",
                "block",
            )


def family_of(config: dict, path: str) -> Tuple[str, str]:
    model_type = str(config.get("model_type", "")).strip()
    key = model_type.lower()
    if key not in SUPPORTED_MODEL_TYPES:
        archs = config.get("architectures") or []
        if any("Dream" in a for a in archs):
            key = "dream"
        elif any("LLaDA" in a for a in archs):
            key = "llada"
        else:
            raise ConversionError(
                f"{path}: unsupported architecture: model_type {model_type!r} (architectures {archs}); "
                f"supported model_type values: {', '.join(sorted(SUPPORTED_MODEL_TYPES))}",
                "arch",
            )
    return SUPPORTED_MODEL_TYPES[key][0], model_type


def default_shift(config: dict, path: str) -> Tuple[str, str]:
    """(shift, where it came from) by rules 2-3 of the module docstring."""
    if isinstance(config.get("right_shift_logits"), bool):
        return ("shifted" if config["right_shift_logits"] else "none"), f"{path} 'right_shift_logits'"
    if config.get("logit_shift") in ("none", "shifted"):
        return config["logit_shift"], f"{path} 'logit_shift'"
    key = str(config.get("model_type", "")).strip().lower()
    if key not in SUPPORTED_MODEL_TYPES:
        key = "dream" if any("Dream" in a for a in config.get("architectures") or []) else "llada"
    return SUPPORTED_MODEL_TYPES[key][1], f"model_type {config.get('model_type')!r}"


def check_limits(arch: ArchConfig, path: str) -> None:
    sizes = {"vocab_size": arch.vocab_size, "hidden_size": arch.hidden_size, "num_layers": arch.num_layers,
             "num_heads": arch.num_heads, "intermediate_size": arch.intermediate_size, "head_dim": arch.head_dim,
             "parameters": arch.parameter_count()}  # fmt: skip
    for key, value in sizes.items():
        if not value or value <= 0:
            raise ConversionError(f"{path}: {key} = {value} must be positive", "config")
        if value > LIMITS[key]:
            raise ConversionError(
                f"{path}: {key} = {value:.4g} is implausible (limit {LIMITS[key]:.4g}); the config is corrupt or not a "
                "language model",
                "config",
            )


def _normalise_rope(config: dict, path: str) -> dict:
    """transformers 5 writes RoPE as `rope_parameters` {"rope_type", "rope_theta"} (4.x: top-level `rope_theta`
    and `rope_scaling`). Only plain RoPE is supported; the theta is copied to `rope_theta` either way."""
    for key in ("rope_scaling", "rope_parameters"):
        value = config.get(key)
        if not value:
            continue
        kind = value.get("rope_type", value.get("type")) if isinstance(value, dict) else value
        if kind not in (None, "default"):
            raise ConversionError(f"{path}: field {key!r} = {value!r} is not supported (plain RoPE only)", "arch")
        if isinstance(value, dict) and "rope_theta" in value and "rope_theta" not in config:
            config = dict(config, rope_theta=value["rope_theta"])
    return config


def arch_from_config(config: dict, family: str, path: str) -> Tuple[ArchConfig, int, Optional[int]]:
    config = _normalise_rope(config, path)
    if family == "llada":
        if config.get("include_bias"):
            raise ConversionError(f"{path}: field 'include_bias' = true is not supported (LLaDA-8B has false)")
        if str(config.get("block_type", "llama")).lower() != "llama":
            raise ConversionError(f"{path}: field 'block_type' = {config.get('block_type')!r}; only 'llama'")
        if config.get("alibi"):
            raise ConversionError(f"{path}: field 'alibi' = true is not supported (RoPE only)")
        heads = int(_get(config, path, "n_heads"))
        vocab = int(_get(config, path, "embedding_size", "vocab_size"))
        arch = ArchConfig(
            vocab_size=vocab,
            hidden_size=int(_get(config, path, "d_model")),
            num_layers=int(_get(config, path, "n_layers")),
            num_heads=heads,
            num_kv_heads=int(_get(config, path, "n_kv_heads", default=heads)),
            intermediate_size=int(_get(config, path, "mlp_hidden_size")),
            rope_theta=float(_get(config, path, "rope_theta", default=10000.0)),
            rms_norm_eps=float(_get(config, path, "rms_norm_eps", default=1e-5)),
            qkv_bias=bool(config.get("include_qkv_bias", False)),
            tie_word_embeddings=bool(config.get("weight_tying", False)),
        )
        return arch, vocab, _get(config, path, "max_sequence_length", required=False)
    if config.get("use_sliding_window"):
        raise ConversionError(f"{path}: field 'use_sliding_window' = true is not supported (full attention only)")
    act = str(config.get("hidden_act", "silu"))
    if act not in ("silu", "swish"):
        raise ConversionError(f"{path}: field 'hidden_act' = {act!r}; only silu (SwiGLU) is supported")
    heads = int(_get(config, path, "num_attention_heads"))
    vocab = int(_get(config, path, "vocab_size"))
    # Qwen2 always has q/k/v biases; Qwen3 and LLaMA only with attention_bias (false in every published Qwen3)
    qkv_bias = family in ("qwen2", "dream") or bool(config.get("attention_bias", False))
    if family == "llama" and config.get("mlp_bias"):
        raise ConversionError(f"{path}: field 'mlp_bias' = true is not supported")
    arch = ArchConfig(
        vocab_size=vocab,
        hidden_size=int(_get(config, path, "hidden_size")),
        num_layers=int(_get(config, path, "num_hidden_layers")),
        num_heads=heads,
        num_kv_heads=int(_get(config, path, "num_key_value_heads", default=heads)),
        intermediate_size=int(_get(config, path, "intermediate_size")),
        rope_theta=float(_get(config, path, "rope_theta", default=10000.0)),
        rms_norm_eps=float(_get(config, path, "rms_norm_eps", default=1e-6)),
        qkv_bias=qkv_bias,
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        head_dim=int(config["head_dim"]) if config.get("head_dim") else None,
        qk_norm=family == "qwen3",
    )
    return arch, vocab, _get(config, path, "max_position_embeddings", required=False)


def parameter_sources(arch: ArchConfig, family: str) -> Dict[str, str]:
    """Module parameter name -> checkpoint tensor name."""
    out: Dict[str, str] = {}
    if family == "llada":
        out["model.embed_tokens.weight"] = "model.transformer.wte.weight"
        names = {
            "input_layernorm.weight": "attn_norm.weight",
            "self_attn.q_proj.weight": "q_proj.weight",
            "self_attn.k_proj.weight": "k_proj.weight",
            "self_attn.v_proj.weight": "v_proj.weight",
            "self_attn.o_proj.weight": "attn_out.weight",
            "post_attention_layernorm.weight": "ff_norm.weight",
            "mlp.gate_proj.weight": "ff_proj.weight",
            "mlp.up_proj.weight": "up_proj.weight",
            "mlp.down_proj.weight": "ff_out.weight",
        }
        if arch.qkv_bias:
            names.update({f"self_attn.{p}_proj.bias": f"{p}_proj.bias" for p in "qkv"})
        for i in range(arch.num_layers):
            for ours, theirs in names.items():
                out[f"model.layers.{i}.{ours}"] = f"model.transformer.blocks.{i}.{theirs}"
        out["model.norm.weight"] = "model.transformer.ln_f.weight"
        if not arch.tie_word_embeddings:
            out["lm_head.weight"] = "model.transformer.ff_out.weight"
        return out
    out["model.embed_tokens.weight"] = "model.embed_tokens.weight"
    for i in range(arch.num_layers):
        p = f"model.layers.{i}."
        for n in ["input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.o_proj.weight"]:
            out[p + n] = p + n
        for proj in "qkv":
            out[p + f"self_attn.{proj}_proj.weight"] = p + f"self_attn.{proj}_proj.weight"
            if arch.qkv_bias:
                out[p + f"self_attn.{proj}_proj.bias"] = p + f"self_attn.{proj}_proj.bias"
        if arch.qk_norm:
            for n in ["self_attn.q_norm.weight", "self_attn.k_norm.weight"]:
                out[p + n] = p + n
        for proj in ["gate_proj", "up_proj", "down_proj"]:
            out[p + f"mlp.{proj}.weight"] = p + f"mlp.{proj}.weight"
    out["model.norm.weight"] = "model.norm.weight"
    if not arch.tie_word_embeddings:
        out["lm_head.weight"] = "lm_head.weight"
    return out


class TokenizerInfo:
    def __init__(self, path: str):
        data = _read_json(path, "tokenizer.json")
        model = data.get("model") or {}
        vocab = model.get("vocab")
        ids: Dict[str, int] = {}
        if isinstance(vocab, dict):
            ids.update({str(k): int(v) for k, v in vocab.items()})
        elif isinstance(vocab, list):  # Unigram: [[piece, score], ...]
            ids.update({str(p[0]): i for i, p in enumerate(vocab)})
        else:
            raise ConversionError(f"{path}: field 'model.vocab' is missing or not a vocabulary")
        self.added: Dict[str, int] = {}
        for t in data.get("added_tokens") or []:
            ids[str(t["content"])] = int(t["id"])
            self.added[str(t["content"])] = int(t["id"])
        self.ids = ids
        self.by_id = {v: k for k, v in ids.items()}
        self.size = len(set(ids.values()))
        self.max_id = max(ids.values()) if ids else -1


def _token_name(value) -> Optional[str]:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _first_int(value) -> Optional[int]:
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def resolve_special_tokens(
    config: dict,
    tok_config: dict,
    tok: TokenizerInfo,
    family: str,
    overrides: Dict[str, Optional[str]],
    files: Tuple[str, str, str],
) -> SpecialTokens:
    config_path, tok_config_path, tokenizer_path = files

    def by_override(role: str) -> Optional[int]:
        value = overrides.get(role)
        if value is None:
            return None
        if value.isdigit():
            return int(value)
        if value not in tok.ids:
            raise ConversionError(f"--{role}-token {value!r} is not a token of {tokenizer_path}")
        return tok.ids[value]

    def from_sources(role: str) -> Optional[int]:
        found = by_override(role)
        if found is not None:
            return found
        found = _first_int(config.get(f"{role}_token_id"))
        if found is not None:
            return found
        name = _token_name(tok_config.get(f"{role}_token"))
        if name is not None:
            if name not in tok.ids:
                raise ConversionError(f"{tok_config_path}: {role}_token {name!r} is not a token of {tokenizer_path}")
            return tok.ids[name]
        return None

    mask = from_sources("mask")
    if mask is None:
        for name in MASK_TOKEN_NAMES:
            if name in tok.added:
                mask = tok.added[name]
                break
    if mask is None and family == "llada":
        mask = 126336
    if mask is None:
        raise ConversionError(
            f"no mask token: none of {config_path} 'mask_token_id', {tok_config_path} 'mask_token' or an added token "
            f"named {' / '.join(MASK_TOKEN_NAMES)} in {tokenizer_path}; pass --mask-token"
        )
    eos = from_sources("eos")
    bos = from_sources("bos")
    pad = from_sources("pad")
    if pad is None:
        pad = eos
    end = by_override("end")
    if end is None:
        end = eos if eos is not None else pad
    if pad is None or end is None:
        raise ConversionError(
            f"no end/pad token: {config_path} has no 'eos_token_id' / 'pad_token_id' and {tok_config_path} no "
            f"'eos_token' / 'pad_token'; pass --end-token and --pad-token"
        )
    special = SpecialTokens(mask=mask, pad=pad, end=end, eos=eos, bos=bos)
    for role, value in special.to_json().items():
        if value not in tok.by_id:
            raise ConversionError(f"special token {role} = {value} does not exist in {tokenizer_path}")
    return special


def inspect_checkpoint(
    directory: str,
    logit_shift: Optional[str] = None,
    token_overrides: Optional[Dict[str, Optional[str]]] = None,
    open_weights: bool = True,
) -> CheckpointSpec:
    if not os.path.isdir(directory):
        raise ConversionError(f"checkpoint folder not found: {directory}")
    config_path = os.path.join(directory, "config.json")
    config = _read_json(config_path, "config.json")
    if not isinstance(config, dict):
        raise ConversionError(f"{config_path}: not a JSON object")
    refuse_block_diffusion(config, config_path, directory)
    family, model_type = family_of(config, config_path)
    try:
        arch, config_vocab, max_pos = arch_from_config(config, family, config_path)
    except (TypeError, ValueError) as e:
        raise ConversionError(f"{config_path}: {e}", "config") from e
    check_limits(arch, config_path)
    tokenizer_path = os.path.join(directory, "tokenizer.json")
    if not os.path.isfile(tokenizer_path):
        raise ConversionError(
            f"missing tokenizer.json in {directory} (a Hugging Face fast tokenizer file is required; "
            "vocab.json + merges.txt alone are not enough)"
        )
    tok = TokenizerInfo(tokenizer_path)
    tok_config_path = os.path.join(directory, "tokenizer_config.json")
    tok_config = _read_json(tok_config_path, "tokenizer_config.json") if os.path.isfile(tok_config_path) else {}
    special = resolve_special_tokens(
        config, tok_config, tok, family, token_overrides or {}, (config_path, tok_config_path, tokenizer_path)
    )
    notes: List[str] = []
    if tok.size != tok.max_id + 1:
        notes.append(f"tokenizer ids are not contiguous ({tok.size} tokens, max id {tok.max_id})")
    vocab = tok.max_id + 1
    if vocab > config_vocab:
        raise ConversionError(
            f"tokenizer/model vocabulary mismatch: {tokenizer_path} has token ids up to {tok.max_id} but "
            f"{config_path} vocab_size is {config_vocab} (the tokenizer belongs to a different model)",
            "vocab",
        )
    if vocab < config_vocab:
        notes.append(f"LM head trimmed from {config_vocab} to the tokenizer's {vocab} rows (padding rows)")
    arch.vocab_size = vocab
    if logit_shift is None:
        logit_shift, source = default_shift(config, config_path)
        notes.append(f"logit_shift {logit_shift} (from {source}; --logit-shift overrides)")
        if model_type.lower() in ("llama", "qwen3"):
            notes.append(f"model_type {model_type!r}: assumed unshifted (LLaDA / MDLM-style); pass --logit-shift if not")
    elif logit_shift not in ("none", "shifted"):
        raise ConversionError(f"--logit-shift must be 'none' or 'shifted', got {logit_shift!r}")
    spec = CheckpointSpec(
        directory=directory,
        family=family,
        model_type=model_type,
        arch=arch,
        config_vocab_size=config_vocab,
        logit_shift=logit_shift,
        special=special,
        tokenizer_path=tokenizer_path,
        tokenizer_vocab=vocab,
        max_position_embeddings=int(max_pos) if max_pos else None,
        sources=parameter_sources(arch, family),
        notes=notes,
    )
    if open_weights:
        try:
            spec.checkpoint = Checkpoint(directory)
        except SafetensorsError as e:
            raise ConversionError(str(e), e.kind) from e
        check_tensors(spec)
    return spec


def expected_shapes(arch: ArchConfig) -> Dict[str, Tuple[int, ...]]:
    """Parameter shapes, derived arithmetically (nothing allocated)."""
    h, d, i = arch.hidden_size, arch.head_dim, arch.intermediate_size
    shapes: Dict[str, Tuple[int, ...]] = {"model.embed_tokens.weight": (arch.vocab_size, h), "model.norm.weight": (h,)}
    for n in range(arch.num_layers):
        p = f"model.layers.{n}."
        shapes[p + "input_layernorm.weight"] = (h,)
        shapes[p + "post_attention_layernorm.weight"] = (h,)
        shapes[p + "self_attn.q_proj.weight"] = (arch.num_heads * d, h)
        shapes[p + "self_attn.k_proj.weight"] = (arch.num_kv_heads * d, h)
        shapes[p + "self_attn.v_proj.weight"] = (arch.num_kv_heads * d, h)
        shapes[p + "self_attn.o_proj.weight"] = (h, arch.num_heads * d)
        if arch.qk_norm:
            shapes[p + "self_attn.q_norm.weight"] = (d,)
            shapes[p + "self_attn.k_norm.weight"] = (d,)
        if arch.qkv_bias:
            shapes[p + "self_attn.q_proj.bias"] = (arch.num_heads * d,)
            shapes[p + "self_attn.k_proj.bias"] = (arch.num_kv_heads * d,)
            shapes[p + "self_attn.v_proj.bias"] = (arch.num_kv_heads * d,)
        shapes[p + "mlp.gate_proj.weight"] = (i, h)
        shapes[p + "mlp.up_proj.weight"] = (i, h)
        shapes[p + "mlp.down_proj.weight"] = (h, i)
    if not arch.tie_word_embeddings:
        shapes["lm_head.weight"] = (arch.vocab_size, h)
    return shapes


def check_tensors(spec: CheckpointSpec) -> None:
    """Every parameter has a checkpoint tensor of the right shape (vocabulary rows may be padded)."""
    assert spec.checkpoint is not None
    shapes = expected_shapes(spec.arch)
    missing = [src for p, src in spec.sources.items() if src not in spec.checkpoint]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ConversionError(f"{spec.directory}: checkpoint is missing tensor(s) {shown}", "shard")
    for param, src in spec.sources.items():
        _, shape = spec.checkpoint.info(src)
        want = shapes[param]
        if param in ("model.embed_tokens.weight", "lm_head.weight"):
            if len(shape) == 2 and shape[1] == want[1] and shape[0] < want[0]:
                raise ConversionError(
                    f"tokenizer/model vocabulary mismatch: tensor {src} has {shape[0]} rows but {spec.tokenizer_path} "
                    f"has {want[0]} tokens (the tokenizer belongs to a different model)",
                    "vocab",
                )
            ok = len(shape) == 2 and shape[1] == want[1] and shape[0] >= want[0]
        else:
            ok = tuple(shape) == tuple(want)
        if not ok:
            raise ConversionError(f"{spec.directory}: tensor {src} has shape {list(shape)}, expected {list(want)}")


LINEAR_SUFFIXES = tuple(f".self_attn.{p}_proj.weight" for p in "qkvo") + tuple(
    f".mlp.{p}_proj.weight" for p in ("gate", "up", "down")
)


def is_quantized_linear(param: str) -> bool:
    """The parameters --dtype int8 / int4 quantise (the exporter decides from the graph; this mirrors it)."""
    return param.startswith("model.layers.") and param.endswith(LINEAR_SUFFIXES)


def load_state_dict(spec: CheckpointSpec, round_fp16: bool = False, dtype: Optional[str] = None) -> Dict[str, "object"]:
    """Module state dict (torch tensors) from the checkpoint, with the exported weights' rounding applied:
    `round_fp16` / dtype fp16 mimic float16 storage; dtype int8 / int4 quantise-dequantise the linear layers
    exactly as the exporter stores them (and round the rest to float16)."""
    import torch

    from . import quantize

    out = {}
    for param in spec.sources:
        arr = spec.load(param)
        if dtype in ("int8", "int4") and is_quantized_linear(param):
            if dtype == "int4":
                arr = quantize.dequantize_int4(*quantize.quantize_int4(arr), k=arr.shape[1])
            else:
                arr = quantize.dequantize_int8(*quantize.quantize_int8(arr))
            arr = np.ascontiguousarray(arr, dtype=np.float32)
        elif round_fp16 or dtype in ("fp16", "int8", "int4"):
            arr = arr.astype(np.float16).astype(np.float32)
        out[param] = torch.from_numpy(arr)
    return out


WeightLoader = Callable[[str], np.ndarray]
