"""Tokenise annotated files into packed splits (the arrays corrupt.Split and corrupt_torch read), with the fast
`tokenizers` package where it is installed (the GPU machine) and our pure-Python bpe.py otherwise.

Both must give the engine's ids (the engine uses @huggingface/tokenizers with the same tokenizer.json): `parity`
compares tokenizers with bpe.py on a sample, and the GPU run stops when they differ.

Token start offsets come from the ids themselves (each byte-level token's length in bytes, mapped to characters), so
they do not depend on how a tokenizer reports offsets. Files that contain a special-token literal (`<|mask|>`, ...)
are skipped: tokenizers would turn the literal into the special id and bpe.py would not, and a literal mask token in
the training text would teach the model nothing useful.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from .bpe import EOS_ID, SPECIAL_TOKENS, Encoder


class Tokeniser:
    def __init__(self, tokenizer_json: Path, backend: str = "auto"):
        self.path = Path(tokenizer_json)
        self.bpe = Encoder.load(self.path)
        vocab = self.bpe.vocab
        self.byte_len = np.zeros(len(vocab), dtype=np.int64)
        self.newline = np.zeros(len(vocab), dtype=bool)
        for tok, i in vocab.items():
            self.byte_len[i] = 0 if tok in SPECIAL_TOKENS else len(tok)  # one alphabet char per byte
            self.newline[i] = "Ċ" in tok  # byte-level form of "\n"
        self.fast = None
        if backend in ("auto", "tokenizers"):
            try:
                from tokenizers import Tokenizer
                self.fast = Tokenizer.from_file(str(self.path))
            except ImportError:
                if backend == "tokenizers":
                    raise
        self.backend = "tokenizers" if self.fast is not None else "bpe.py"

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if self.fast is not None:
            return [e.ids for e in self.fast.encode_batch(texts, add_special_tokens=False)]
        return [self.bpe.encode(t) for t in texts]

    def parity(self, texts: list[str]) -> dict:
        """bpe.py vs tokenizers on the same texts; {'checked': n, 'mismatches': [...]} (needs tokenizers)."""
        if self.fast is None:
            return {"checked": 0, "reason": "tokenizers not installed"}
        fast = self.encode_batch(texts)
        bad = [i for i, (t, ids) in enumerate(zip(texts, fast)) if self.bpe.encode(t) != ids]
        return {"checked": len(texts), "mismatches": bad}

    def char_starts(self, ids: list[int], text: str) -> np.ndarray:
        """Character offset where each token starts (a token starting inside a multi-byte character maps to it)."""
        lens = self.byte_len[np.asarray(ids, dtype=np.int64)]
        byte_starts = np.cumsum(lens) - lens
        if text.isascii():
            return byte_starts
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        utf8 = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
        char_byte_starts = np.cumsum(utf8) - utf8
        return np.searchsorted(char_byte_starts, byte_starts, side="right") - 1


def node_ids(tokenizer_json: Path, texts: list[str]) -> list[list[int]]:
    """The engine's ids for texts (tokenizer_ids.mjs: @huggingface/tokenizers in Node, as src/engine/tokenizer.ts)."""
    import subprocess
    import tempfile
    repo = Path(__file__).resolve().parents[2]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(texts, fh)
    try:
        run = subprocess.run(["node", str(repo / "models" / "recipe" / "tokenizer_ids.mjs"), str(tokenizer_json), fh.name],
                             capture_output=True, text=True, check=True)
    finally:
        Path(fh.name).unlink()
    return json.loads(run.stdout)


def parity_with_node(tokenizer_json: Path, texts: list[str]) -> dict:
    """bpe.py vs the engine's tokenizer on the same texts."""
    bpe = Encoder.load(tokenizer_json)
    engine = node_ids(tokenizer_json, texts)
    bad = [i for i, (t, ids) in enumerate(zip(texts, engine)) if bpe.encode(t) != ids]
    return {"checked": len(texts), "tokens": sum(len(i) for i in engine), "mismatches": bad}


def has_special_literal(text: str) -> bool:
    return any(tok in text for tok in SPECIAL_TOKENS)


def to_token_ranges(starts: np.ndarray, char_ranges: np.ndarray) -> np.ndarray:
    """[start, end) character ranges -> the token ranges that cover them (as pack.py)."""
    tok_start = np.searchsorted(starts, char_ranges[:, 0], side="right") - 1
    tok_end = np.searchsorted(starts, char_ranges[:, 1], side="left")
    return np.stack([np.maximum(tok_start, 0), tok_end], axis=1)


def build_splits(records: list[dict], annotations: dict, tok: Tokeniser, batch: int = 2048) -> dict:
    """records: {id, split, text, ...}; annotations: id -> {spans: [[s, e]], idents: [[s, e, name]]} with character
    (code point) offsets. Returns split name -> dict of arrays plus 'summary'."""
    parts = {"train": {"tokens": [], "spans": [], "idents": []}, "val": {"tokens": [], "spans": [], "idents": []}}
    offsets = {"train": 0, "val": 0}
    skipped_special = 0
    kept = [r for r in records if not has_special_literal(r["text"])]
    skipped_special = len(records) - len(kept)
    for i in range(0, len(kept), batch):
        chunk = kept[i:i + batch]
        for rec, ids in zip(chunk, tok.encode_batch([r["text"] for r in chunk])):
            split = parts[rec["split"]]
            base = offsets[rec["split"]]
            starts = tok.char_starts(ids, rec["text"])
            ann = annotations.get(rec["id"], {"spans": [], "idents": []})
            if ann["spans"]:
                split["spans"].append(to_token_ranges(starts, np.asarray(ann["spans"], dtype=np.int64)) + base)
            if ann["idents"]:
                ranges = to_token_ranges(starts, np.asarray([[s, e] for s, e, _ in ann["idents"]], dtype=np.int64))
                # Same key = same name in the same file (the identifier-tied corruption masks all of them).
                keys = np.asarray([zlib.crc32(f"{rec['id']}:{name}".encode()) & 0x7FFFFFFF
                                   for _, _, name in ann["idents"]], dtype=np.int64)
                split["idents"].append(np.concatenate([ranges + base, keys[:, None]], axis=1))
            split["tokens"].append(np.asarray(list(ids) + [EOS_ID], dtype=np.uint16))
            offsets[rec["split"]] += len(ids) + 1
    out = {}
    summary = {"backend": tok.backend, "skipped_special_literal": skipped_special}
    for name, split in parts.items():
        tokens = np.concatenate(split["tokens"]) if split["tokens"] else np.zeros(0, np.uint16)
        spans = np.concatenate(split["spans"]) if split["spans"] else np.zeros((0, 2), np.int64)
        spans = spans[spans[:, 1] > spans[:, 0]]
        spans = spans[np.lexsort((spans[:, 1], spans[:, 0]))]
        idents = np.concatenate(split["idents"]) if split["idents"] else np.zeros((0, 3), np.int64)
        idents = idents[idents[:, 1] > idents[:, 0]]
        idents = idents[np.argsort(idents[:, 0], kind="stable")]
        out[name] = {"tokens": tokens, "newline": tok.newline[tokens.astype(np.int64)],
                     "spans": spans.astype(np.int32), "idents": idents.astype(np.int32)}
        summary[name] = {"files": len(split["tokens"]), "tokens": int(tokens.size), "spans": int(len(spans)),
                         "identifier_occurrences": int(len(idents))}
    out["summary"] = summary
    return out


def save_splits(built: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val"):
        np.savez(out_dir / f"{name}.npz", **built[name])
    (out_dir / "summary.json").write_text(json.dumps(built["summary"], indent=1) + "\n")


def main(argv=None) -> None:
    """parity-node: bpe.py vs the engine's tokenizer (Node) on a seeded sample of a corpus' files."""
    import argparse
    import random
    import sys
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("cmd", choices=["parity-node"])
    ap.add_argument("--corpus", default="build/corpus-jsts/files.jsonl")
    ap.add_argument("--tokenizer", default="models/default/tokenizer.json")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    records = [json.loads(line) for line in open(args.corpus)]
    texts = [r["text"] for r in random.Random(args.seed).sample(records, min(args.sample, len(records)))]
    result = parity_with_node(Path(args.tokenizer), texts)
    print(json.dumps({**result, "mismatches": len(result["mismatches"]), "bytes": sum(len(t.encode()) for t in texts)}))
    sys.exit(1 if result["mismatches"] else 0)


if __name__ == "__main__":
    main()
