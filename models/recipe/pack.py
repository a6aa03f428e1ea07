"""Tokenize the corpus and turn the tree-sitter annotations into token ranges, one .npz per split.

Each split file holds
  tokens     uint16 [T]     all files of the split, each followed by <|endoftext|>
  newline    bool   [T]     the token contains a newline (region-infill holes are line-aligned on these)
  spans      int32  [S, 2]  syntax units as [start, end) token ranges, sorted by start
  idents     int32  [I, 3]  identifier occurrences: start, end, key (same key = same name in the same file)
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np

from .bpe import EOS_ID, Encoder


def utf16_to_codepoint(text: str):
    """Map UTF-16 offsets (what tree-sitter in Node reports) to Python string offsets."""
    if all(ord(c) <= 0xFFFF for c in text):
        return None
    widths = np.fromiter((2 if ord(c) > 0xFFFF else 1 for c in text), dtype=np.int64, count=len(text))
    boundaries = np.concatenate([[0], np.cumsum(widths)])
    return lambda u: np.searchsorted(boundaries, u, side="left")


def pack(files_path: Path, spans_path: Path, tokenizer: Path, out_dir: Path, max_files: int | None) -> dict:
    enc = Encoder.load(tokenizer)
    newline_token = np.zeros(len(enc.vocab), dtype=bool)
    for tok, i in enc.vocab.items():
        newline_token[i] = "Ċ" in tok  # byte-level form of "\n"
    annotations = {}
    with open(spans_path) as fh:
        for line in fh:
            a = json.loads(line)
            annotations[a["id"]] = a
    splits = {"train": {"tokens": [], "spans": [], "idents": []}, "val": {"tokens": [], "spans": [], "idents": []}}
    offsets = {"train": 0, "val": 0}
    count = 0
    with open(files_path) as fh:
        for line in fh:
            f = json.loads(line)
            if max_files is not None and count >= max_files:
                break
            count += 1
            split = splits[f["split"]]
            base = offsets[f["split"]]
            text = f["text"]
            ids, starts = enc.encode_with_offsets(text)
            starts_arr = np.asarray(starts, dtype=np.int64)
            ann = annotations.get(f["id"], {"spans": [], "idents": []})
            convert = utf16_to_codepoint(text)

            def to_tokens(char_ranges: np.ndarray) -> np.ndarray:
                if convert is not None:
                    char_ranges = convert(char_ranges)
                tok_start = np.searchsorted(starts_arr, char_ranges[:, 0], side="right") - 1
                tok_end = np.searchsorted(starts_arr, char_ranges[:, 1], side="left")
                return np.stack([np.maximum(tok_start, 0), tok_end], axis=1) + base

            if ann["spans"]:
                split["spans"].append(to_tokens(np.asarray(ann["spans"], dtype=np.int64)))
            if ann["idents"]:
                ranges = to_tokens(np.asarray([[s, e] for s, e, _ in ann["idents"]], dtype=np.int64))
                keys = np.asarray([zlib.crc32(f"{f['id']}:{name}".encode()) & 0x7FFFFFFF
                                   for _, _, name in ann["idents"]], dtype=np.int64)
                split["idents"].append(np.concatenate([ranges, keys[:, None]], axis=1))
            split["tokens"].append(np.asarray(ids + [EOS_ID], dtype=np.uint16))
            offsets[f["split"]] += len(ids) + 1
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, split in splits.items():
        tokens = np.concatenate(split["tokens"]) if split["tokens"] else np.zeros(0, np.uint16)
        spans = np.concatenate(split["spans"]) if split["spans"] else np.zeros((0, 2), np.int64)
        spans = spans[spans[:, 1] > spans[:, 0]]
        spans = spans[np.lexsort((spans[:, 1], spans[:, 0]))]
        idents = np.concatenate(split["idents"]) if split["idents"] else np.zeros((0, 3), np.int64)
        idents = idents[idents[:, 1] > idents[:, 0]]
        idents = idents[np.argsort(idents[:, 0], kind="stable")]
        np.savez(out_dir / f"{name}.npz", tokens=tokens, newline=newline_token[tokens],
                 spans=spans.astype(np.int32), idents=idents.astype(np.int32))
        summary[name] = {"files": len(split["tokens"]), "tokens": int(tokens.size), "spans": int(len(spans)),
                         "identifier_occurrences": int(len(idents))}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default="build/corpus")
    ap.add_argument("--tokenizer", default="build/tokenizer/tokenizer.json")
    ap.add_argument("--out", default="build/data")
    ap.add_argument("--max-files", type=int, default=None)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    summary = pack(corpus / "files.jsonl", corpus / "spans.jsonl", Path(args.tokenizer), Path(args.out),
                   args.max_files)
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
