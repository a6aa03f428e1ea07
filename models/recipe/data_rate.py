"""Batches per second of the two data paths at a GPU-sized batch, on whatever device is given:
corrupt.py (numpy, one example at a time, one process) and corrupt_torch.py (batched tensor ops).

    /usr/bin/python3 -m models.recipe.data_rate --data build/gpu-data --batch 256 --seq-len 256 --device cpu
    /usr/bin/python3 -m models.recipe.data_rate --corpus build/corpus-jsts --max-files 400   # tokenises a sample

Prints tokens/s of each path (batch * seq_len * batches / seconds), structure-aware mixture.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from . import corrupt, corrupt_torch
from .pack import utf16_to_codepoint
from .tokenise import Tokeniser, build_splits


def sample_split(corpus: Path, tokenizer: Path, max_files: int) -> corrupt.Split:
    records, annotations = [], {}
    with open(corpus / "files.jsonl") as fh, open(corpus / "spans.jsonl") as sh:
        for line, ann in itertools.islice(zip(fh, sh), max_files):
            r, a = json.loads(line), json.loads(ann)
            r["split"] = "train"
            convert = utf16_to_codepoint(r["text"])
            if convert is not None:  # spans.mjs offsets are UTF-16
                a["spans"] = [[int(convert(s)), int(convert(e))] for s, e in a["spans"]]
                a["idents"] = [[int(convert(s)), int(convert(e)), n] for s, e, n in a["idents"]]
            records.append(r)
            annotations[r["id"]] = a
    built = build_splits(records, annotations, Tokeniser(tokenizer))["train"]
    return corrupt.Split(built["tokens"].astype(np.int64), built["newline"], built["spans"].astype(np.int64),
                         built["idents"].astype(np.int64))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="folder with train.npz")
    ap.add_argument("--corpus", default=None, help="annotated corpus folder (files.jsonl + spans.jsonl)")
    ap.add_argument("--tokenizer", default="models/default/tokenizer.json")
    ap.add_argument("--max-files", type=int, default=400)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = (corrupt.Split.load(Path(args.data) / "train.npz") if args.data
             else sample_split(Path(args.corpus), Path(args.tokenizer), args.max_files))
    tokens = args.batch * args.seq_len * args.batches
    t0 = time.time()
    for step in range(args.batches):
        corrupt.make_batch(split, args.batch, args.seq_len, np.random.default_rng([1, step]))
    numpy_s = time.time() - t0
    device = torch.device(args.device)
    data = corrupt_torch.DeviceSplit.from_split(split, device)
    corrupt_torch.make_batch(data, args.batch, args.seq_len, corrupt_torch.generator_for(1, 0, device),
                             corrupt.STRUCTURED_MIXTURE)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    for step in range(args.batches):
        corrupt_torch.make_batch(data, args.batch, args.seq_len, corrupt_torch.generator_for(1, step, device),
                                 corrupt.STRUCTURED_MIXTURE)
    if device.type == "cuda":
        torch.cuda.synchronize()
    torch_s = time.time() - t0
    report = {"split_tokens": int(split.tokens.size), "batch": args.batch, "seq_len": args.seq_len,
              "batches": args.batches, "device": str(device), "threads": args.threads,
              "numpy_tokens_per_s": round(tokens / numpy_s), "torch_tokens_per_s": round(tokens / torch_s),
              "numpy_ms_per_batch": round(1000 * numpy_s / args.batches, 1),
              "torch_ms_per_batch": round(1000 * torch_s / args.batches, 1)}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
