"""Convert a local Hugging Face diffusion-LM checkpoint to our ONNX model folder (docs/model-format.md).

    /usr/bin/python3 -m models.export.convert --checkpoint DIR --out DIR [--fp16 | --fp16-compute] [--top-k 8]
        [--max-length N] [--full-logits] [--name NAME] [--logit-shift none|shifted]
        [--mask-token T] [--end-token T] [--pad-token T] [--external-data auto|always|never]

Supported: Qwen2-architecture diffusion models (model_type qwen2 / Dream: Dream-7B, Dream-Coder-7B,
DiffuCoder-7B, DreamOn-7B, Open-dCoder-0.5B; shifted logits), LLaDA (model_type llada; unshifted) and
LLaMA-layout checkpoints (model_type llama; unshifted unless --logit-shift shifted). See docs/byo-model.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Callable, Optional

from .checkpoint import CODE_LANGUAGES, ConversionError, inspect_checkpoint
from .onnx_export import OPSET, export_graphs

FORMAT = "diffusion-infill/1"
DEFAULT_MAX_LENGTH = 4096


def convert(
    checkpoint: str,
    out: str,
    fp16: bool = False,
    top_k: int = 8,
    max_length: Optional[int] = None,
    full_logits: bool = False,
    name: Optional[str] = None,
    logit_shift: Optional[str] = None,
    mask_token: Optional[str] = None,
    end_token: Optional[str] = None,
    pad_token: Optional[str] = None,
    external_data: str = "auto",
    log: Callable[[str], None] = print,
    fp16_compute: bool = False,
) -> dict:
    """Converts; returns the manifest written to `out`/model.json. Raises ConversionError on user errors."""
    started = time.time()
    if top_k < 1:
        raise ConversionError(f"--top-k must be at least 1, got {top_k}")
    spec = inspect_checkpoint(
        checkpoint,
        logit_shift=logit_shift,
        token_overrides={"mask": mask_token, "end": end_token, "pad": pad_token},
    )
    arch = spec.arch
    log(
        f"{checkpoint}: model_type {spec.model_type!r} -> {spec.family} architecture, {arch.num_layers} layers, "
        f"hidden {arch.hidden_size}, {arch.num_heads} heads / {arch.num_kv_heads} kv heads, vocab {arch.vocab_size}, "
        f"logit_shift {spec.logit_shift}, special tokens {spec.special.to_json()}"
    )
    for note in spec.notes:
        log(f"note: {note}")
    if max_length is None:
        max_length = min(spec.max_position_embeddings or DEFAULT_MAX_LENGTH, DEFAULT_MAX_LENGTH)
    if max_length < 2:
        raise ConversionError(f"--max-length must be at least 2, got {max_length}")
    os.makedirs(out, exist_ok=True)
    external = {"auto": None, "always": True, "never": False}.get(external_data, "bad")
    if external == "bad":
        raise ConversionError(f"--external-data must be auto, always or never, got {external_data!r}")
    result = export_graphs(
        arch,
        spec.load,
        out,
        mask_id=spec.special.mask,
        top_k=top_k,
        fp16=fp16,
        full_logits=full_logits,
        external=external,  # type: ignore[arg-type]
        log=log,
        fp16_compute=fp16_compute,
    )
    shutil.copyfile(spec.tokenizer_path, os.path.join(out, "tokenizer.json"))
    manifest = {
        "format": FORMAT,
        "name": name or os.path.basename(os.path.normpath(checkpoint)),
        "onnx": result["files"][0],
        "tokenizer": "tokenizer.json",
        "vocab_size": arch.vocab_size,
        "special_tokens": spec.special.to_json(),
        "logit_shift": spec.logit_shift,
        "max_length": int(max_length),
        "output_kind": "positions_topk",
        "top_k": min(top_k, arch.vocab_size),
        "languages": CODE_LANGUAGES,
        "architecture": {
            "family": spec.family,
            "layers": arch.num_layers,
            "hidden": arch.hidden_size,
            "heads": arch.num_heads,
            "kv_heads": arch.num_kv_heads,
            "parameters": arch.parameter_count(),
        },
        "training": {
            "summary": "third-party checkpoint converted by models/export (see the model's own card)",
            "source_model_type": spec.model_type,
        },
        "export": {
            "tool": "models.export.convert",
            "opset": OPSET,
            "weights": (
                "float16, float16 matmuls (GPU)"
                if fp16_compute
                else "float16 (cast to float32 in the graph)" if fp16 else "float32"
            ),
            "external_data": result["external_data"],
            "weight_bytes": result["weight_bytes"],
            "source_vocab_size": spec.config_vocab_size,
            "notes": spec.notes,
        },
    }
    if spec.max_position_embeddings:
        manifest["architecture"]["max_position_embeddings"] = spec.max_position_embeddings
    if full_logits:
        manifest["onnx_full_logits"] = result["files"][1]
    with open(os.path.join(out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"wrote {out} ({', '.join(result['files'])}) in {time.time() - started:.1f}s")
    return manifest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.export.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="Hugging Face checkpoint folder (config.json, safetensors)")
    p.add_argument("--out", required=True, help="output model folder")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="store weights as float16 (compute stays float32)")
    precision.add_argument(
        "--fp16-compute",
        action="store_true",
        help="float16 weights AND float16 matmuls (half the GPU memory; for the CUDA provider)",
    )
    p.add_argument("--top-k", type=int, default=8, help="k of the positions_topk head (default 8)")
    p.add_argument("--max-length", type=int, default=None, help="manifest max_length (default min(config, 4096))")
    p.add_argument("--full-logits", action="store_true", help="also export the full-logits graph")
    p.add_argument("--name", default=None, help="manifest name (default: checkpoint folder name)")
    p.add_argument("--logit-shift", choices=["none", "shifted"], default=None, help="override the shift")
    p.add_argument("--mask-token", default=None, help="mask token (text or id) if the checkpoint does not say")
    p.add_argument("--end-token", default=None, help="token that fills the unused canvas tail (default eos)")
    p.add_argument("--pad-token", default=None, help="pad token (text or id)")
    p.add_argument("--external-data", default="auto", choices=["auto", "always", "never"])
    args = p.parse_args(argv)
    try:
        convert(
            args.checkpoint,
            args.out,
            fp16=args.fp16,
            top_k=args.top_k,
            max_length=args.max_length,
            full_logits=args.full_logits,
            name=args.name,
            logit_shift=args.logit_shift,
            mask_token=args.mask_token,
            end_token=args.end_token,
            pad_token=args.pad_token,
            external_data=args.external_data,
            fp16_compute=args.fp16_compute,
        )
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
