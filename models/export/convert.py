"""Convert a local Hugging Face diffusion-LM checkpoint to our ONNX model folder (docs/model-format.md).

    /usr/bin/python3 -m models.export.convert --checkpoint DIR --out DIR [--dtype fp32|fp16|int8|int4]
        [--fp16-compute] [--top-k 8] [--max-length N] [--full-logits] [--name NAME] [--logit-shift none|shifted]
        [--mask-token T] [--end-token T] [--pad-token T] [--external-data auto|always|never] [--progress-json]

The model is written into a hidden sibling folder and renamed to --out only when complete, so an interrupted
conversion never leaves a folder the extension could select. --progress-json prints one line per checkpoint tensor,
`@@progress {"done": i, "total": n, "bytes": b, "eta_s": s}`, and on failure `@@error {"kind": K, "message": M}`
(kinds: arch, block, shard, pickle, vocab, config, input, oom, disk) for the VS Code command.

Supported: Qwen2-architecture diffusion models (model_type qwen2 / Dream: Dream-7B, Dream-Coder-7B,
DiffuCoder-7B, DreamOn-7B, Open-dCoder-0.5B; shifted logits), Qwen3 (dllm's A2D conversions, model_type a2d-qwen3;
unshifted), a2d-qwen2 (Qwen2.5-Coder A2D; unshifted), LLaDA (model_type llada; unshifted) and LLaMA-layout
checkpoints (model_type llama; unshifted unless --logit-shift shifted). Block-diffusion models are refused.
See docs/byo-model.md.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Callable, Optional

from .checkpoint import CODE_LANGUAGES, ConversionError, inspect_checkpoint
from .onnx_export import OPSET, export_graphs

FORMAT = "diffusion-infill/1"
DEFAULT_MAX_LENGTH = 4096
DTYPES = ("fp32", "fp16", "int8", "int4")
WEIGHTS_TEXT = {
    "fp32": "float32",
    "fp16": "float16 (cast to float32 in the graph)",
    "int8": "int8 linear layers (dynamic quantisation, per-column scales); embedding / head / norms float16",
    "int4": "int4 linear layers (MatMulNBits, block 32); embedding / head / norms float16",
}


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
    dtype: Optional[str] = None,
    progress: Optional[Callable[[int, int, int], None]] = None,
) -> dict:
    """Converts; returns the manifest written to `out`/model.json. Raises ConversionError on user errors.

    `dtype` fp32 | fp16 | int8 | int4 (`fp16=True` is the older spelling of dtype fp16)."""
    started = time.time()
    dtype = dtype or ("fp16" if fp16 else "fp32")
    if dtype not in DTYPES:
        raise ConversionError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if fp16_compute and dtype in ("int8", "int4"):
        raise ConversionError("--fp16-compute cannot be combined with --dtype int8 / int4")
    fp16 = dtype == "fp16"
    quant = dtype if dtype in ("int8", "int4") else None
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
    external = {"auto": None, "always": True, "never": False}.get(external_data, "bad")
    if external == "bad":
        raise ConversionError(f"--external-data must be auto, always or never, got {external_data!r}")
    final = os.path.abspath(out)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    # Written in a hidden sibling (same filesystem: the final rename is atomic) and renamed when complete.
    work = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.partial-", dir=parent)
    try:
        manifest = _convert_into(work, spec, checkpoint, top_k, full_logits, fp16, quant, external, log,
                                 fp16_compute, progress, max_length, name, dtype)  # fmt: skip
        if os.path.isdir(final):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.old-", dir=parent)
            os.rename(final, os.path.join(old, "x"))
            os.rename(work, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"wrote {final} in {time.time() - started:.1f}s")
    return manifest


def _convert_into(work, spec, checkpoint, top_k, full_logits, fp16, quant, external, log, fp16_compute, progress,
                  max_length, name, dtype) -> dict:  # fmt: skip
    arch = spec.arch
    out = work
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
        quant=quant,
        progress=progress,
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
            "dtype": dtype,
            "weights": "float16, float16 matmuls (GPU)" if fp16_compute else WEIGHTS_TEXT[dtype],
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
    if quant:
        manifest["export"]["quantized_tensors"] = result["quantized_tensors"]
    with open(os.path.join(out, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"exported {', '.join(result['files'])}")
    return manifest


class _Progress:
    """`@@progress` lines: tensors written / total, bytes, and an ETA from the mean time per tensor so far."""

    def __init__(self, emit: Callable[[str], None]):
        self.emit = emit
        self.started = time.time()

    def __call__(self, done: int, total: int, nbytes: int) -> None:
        elapsed = time.time() - self.started
        eta = elapsed / done * (total - done) if done else None
        self.emit("@@progress " + json.dumps({"done": done, "total": total, "bytes": nbytes,
                                               "eta_s": None if eta is None else round(eta, 1)}))  # fmt: skip


def _error_line(kind: str, message: str) -> str:
    return "@@error " + json.dumps({"kind": kind, "message": message})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.export.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="Hugging Face checkpoint folder (config.json, safetensors)")
    p.add_argument("--out", required=True, help="output model folder")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--dtype", choices=DTYPES, default=None, help="weight format (default fp32)")
    precision.add_argument("--fp16", action="store_true", help="same as --dtype fp16 (compute stays float32)")
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
    p.add_argument("--progress-json", action="store_true", help="machine-readable @@progress / @@error lines")
    args = p.parse_args(argv)
    # A cancel (SIGTERM from the VS Code command) unwinds like an exception, so convert() deletes its partial folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def emit(line: str) -> None:
        print(line, flush=True)

    def fail(kind: str, message: str) -> int:
        if args.progress_json:
            emit(_error_line(kind, message))
        print(f"error: {message}", file=sys.stderr)
        return 2

    try:
        convert(
            args.checkpoint,
            args.out,
            dtype=args.dtype or ("fp16" if args.fp16 else None),
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
            log=lambda m: print(m, flush=True),
            progress=_Progress(emit) if args.progress_json else None,
        )
    except ConversionError as e:
        return fail(e.kind, str(e))
    except MemoryError:
        return fail("oom", "out of memory while converting: close other programs, or convert on a machine with more "
                    "RAM (the converter streams one tensor at a time; the largest tensor must fit twice)")  # fmt: skip
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return fail("disk", f"out of disk space writing the model ({e}); free space or pick another output "
                        "folder (about the size of the checkpoint at fp16; a quarter at int4)")  # fmt: skip
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
