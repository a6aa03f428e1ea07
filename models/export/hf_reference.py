#!/usr/bin/env python3
"""Our exporter against Hugging Face transformers' own Qwen2 / Qwen3 / Llama classes (issue 14, item 5b).

    python3 -m models.export.hf_reference --out /tmp/hfref --json hf_reference.json     # needs transformers

For each family it builds a tiny random model with transformers' class (Qwen2ForCausalLM with q/k/v biases,
Qwen3ForCausalLM tied and untied with q_norm / k_norm and head_dim != hidden / heads, LlamaForCausalLM with GQA),
`save_pretrained`s it (safetensors), adds a tokenizer.json / tokenizer_config.json of the right vocabulary, converts
the folder with models/export (fp32, full-logits graph), runs that graph in ONNX Runtime and compares its logits with
the transformers model run under a BIDIRECTIONAL attention mask (a 4D mask that lets every row see every column;
the script checks the mask took effect by perturbing the last token and watching row 0 change). Pass: max abs diff
<= 1e-4 over all logits except the mask token's column (ours is -inf by contract).

Runs on the GPU machine's Python (transformers 5.x, torch 2.x, onnxruntime; CPU is enough at these sizes). Without
transformers, `--reference ours` substitutes our own module saved in the same layout, which exercises every other
part of the script (tests: test/python/test_export.py HfReferenceScriptTests); ONNX Runtime comes from the Python
package when installed, else from Node (models/export/ort_check.mjs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .checkpoint import inspect_checkpoint, load_state_dict
from .convert import convert
from .modeling import DiffusionLM
from .safetensors_io import save_file
from .tiny import N_BYTES, tokenizer_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"]
VOCAB = N_BYTES + len(SPECIALS)
MASK = N_BYTES + 3
TOLERANCE = 1e-4
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6, hidden_act="silu",
              bos_token_id=N_BYTES, eos_token_id=N_BYTES + 2, pad_token_id=N_BYTES)  # fmt: skip
FAMILIES: Dict[str, dict] = {
    "qwen2": dict(COMMON, model_type="qwen2", rope_theta=1000000.0, tie_word_embeddings=True),
    "qwen3-tied": dict(COMMON, model_type="qwen3", head_dim=32, rope_theta=1000000.0, attention_bias=False,
                       tie_word_embeddings=True),  # fmt: skip
    "qwen3-untied": dict(COMMON, model_type="qwen3", head_dim=24, rope_theta=10000.0, attention_bias=False,
                         tie_word_embeddings=False),  # fmt: skip
    "llama": dict(COMMON, model_type="llama", rope_theta=500000.0, attention_bias=False, mlp_bias=False,
                  tie_word_embeddings=False, num_key_value_heads=1),  # fmt: skip
}


def write_tokenizer(folder: str) -> None:
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(SPECIALS), f)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "mask_token": "<|mask|>"}, f)


def hf_model(cfg: dict):
    """transformers' own class for the family, random init, eager attention, float32."""
    import transformers

    classes = {"qwen2": ("Qwen2Config", "Qwen2ForCausalLM"), "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
               "llama": ("LlamaConfig", "LlamaForCausalLM")}  # fmt: skip
    conf_cls, model_cls = (getattr(transformers, n) for n in classes[cfg["model_type"]])
    kwargs = {k: v for k, v in cfg.items() if k != "model_type"}
    config = conf_cls(**kwargs)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = model_cls(config).eval().float()
    with torch.no_grad():  # norms away from 1 so a missed q_norm / k_norm shows
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
    return model


def hf_logits(model, ids: torch.Tensor) -> np.ndarray:
    """Logits with every row attending to every column. transformers takes a 4D mask as given; which dtype it
    wants has changed between versions, so both conventions are tried and the one that is bidirectional kept."""
    length = ids.shape[1]
    candidates = [torch.ones(ids.shape[0], 1, length, length, dtype=torch.bool),
                  torch.zeros(ids.shape[0], 1, length, length, dtype=torch.float32)]  # fmt: skip
    probe = ids.clone()
    probe[:, -1] = (probe[:, -1] + 1) % 200
    for mask in candidates:
        try:
            with torch.no_grad():
                a = model(input_ids=ids, attention_mask=mask).logits
                b = model(input_ids=probe, attention_mask=mask).logits
        except Exception:  # noqa: BLE001 - this version rejects that mask form; try the other
            continue
        if float((a[:, 0] - b[:, 0]).abs().max()) > 1e-6:  # row 0 saw the last token: bidirectional
            return a.float().numpy()
    raise RuntimeError("could not make transformers attend bidirectionally with a 4D attention mask")


def ours_as_reference(cfg: dict, folder: str):
    """Stand-in for transformers (no transformers here): our module, random, saved with HF tensor names."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    write_tokenizer(folder)
    spec = inspect_checkpoint(folder, open_weights=False)
    torch.manual_seed(0)
    lm = DiffusionLM(spec.arch).eval()
    with torch.no_grad():
        for name, p in lm.named_parameters():
            p.copy_(1.0 + 0.2 * torch.randn_like(p) if name.endswith("norm.weight") else 0.05 * torch.randn_like(p))
    save_file({k: v for k, v in lm.state_dict().items()}, os.path.join(folder, "model.safetensors"))

    def run(ids: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return lm(ids).numpy()

    return run


def ort_logits(onnx_path: str, ids: np.ndarray) -> np.ndarray:
    try:
        import onnxruntime as ort  # the GPU machine's Python has it

        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        return session.run(["logits"], {"input_ids": ids.astype(np.int64)})[0]
    except ImportError:
        pass
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"input_ids": ids.tolist()}, f)
    try:
        r = subprocess.run(["node", os.path.join(ROOT, "models", "export", "ort_check.mjs"), onnx_path, f.name],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    finally:
        os.unlink(f.name)
    if r.returncode:
        raise RuntimeError(r.stderr)
    out = json.loads(r.stdout)["logits"]
    return np.array([-math.inf if v is None else v for v in out["data"]]).reshape(out["dims"])


def check_family(name: str, cfg: dict, root: str, reference: str) -> dict:
    ckpt = os.path.join(root, name, "checkpoint")
    out = os.path.join(root, name, "onnx")
    shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    if reference == "transformers":
        model = hf_model(cfg)
        model.save_pretrained(ckpt, safe_serialization=True)
        write_tokenizer(ckpt)
        run: Callable[[torch.Tensor], np.ndarray] = lambda ids: hf_logits(model, ids)  # noqa: E731
    else:
        run = ours_as_reference(cfg, ckpt)
    manifest = convert(ckpt, out, full_logits=True, log=lambda _m: None, name=name)
    rng = np.random.default_rng(5)
    ids = rng.integers(0, N_BYTES, size=(2, 17)).astype(np.int64)
    ids[:, 6:11] = MASK
    want = run(torch.from_numpy(ids))
    got = ort_logits(os.path.join(out, manifest["onnx_full_logits"]), ids)
    keep = [v for v in range(VOCAB) if v != MASK]
    diff = float(np.abs(got[..., keep] - want[..., :VOCAB][..., keep]).max())
    return {"family": name, "model_type": cfg["model_type"], "max_abs_diff": diff, "pass": diff <= TOLERANCE,
            "mask_is_minus_inf": bool(np.isneginf(got[..., MASK]).all())}  # fmt: skip


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--json", default=None)
    p.add_argument("--reference", choices=["transformers", "ours"], default="transformers")
    p.add_argument("--only", action="append", choices=sorted(FAMILIES))
    args = p.parse_args(argv)
    if args.reference == "transformers":
        try:
            import transformers  # noqa: F401
        except ImportError:
            print("transformers is not installed: run on the GPU machine, or pass --reference ours", file=sys.stderr)
            return 3
    results = [check_family(n, FAMILIES[n], args.out, args.reference) for n in (args.only or FAMILIES)]
    report = {"reference": args.reference, "tolerance": TOLERANCE, "torch": torch.__version__, "results": results}
    if args.reference == "transformers":
        import transformers

        report["transformers"] = transformers.__version__
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0 if all(r["pass"] and r["mask_is_minus_inf"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
