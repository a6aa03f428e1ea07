"""Byte-level BPE in pure Python: train on the corpus, save a Hugging Face tokenizer.json, encode text.

The pre-tokenizer is GPT-2's ByteLevel regex (what Hugging Face's `ByteLevel` pre-tokenizer with use_regex=true
does), so `@huggingface/tokenizers` in Node reproduces the same ids (checked by test/unit/tokenizer-parity.test.ts).
Special tokens come first: 0 <|pad|> (also the end-of-infill token), 1 <|mask|>, 2 <|endoftext|>.
"""

from __future__ import annotations

import argparse
import collections
import heapq
import json
import random
import sys
from pathlib import Path

try:
    import regex
except ImportError:  # training on a machine without python3-regex needs only the token ids, not the tokenizer
    regex = None

SPECIAL_TOKENS = ["<|pad|>", "<|mask|>", "<|endoftext|>"]
PAD_ID, MASK_ID, EOS_ID = 0, 1, 2
GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""") if regex else None


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def pretokenize(text: str) -> list[str]:
    return ["".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8")) for piece in GPT2_PATTERN.findall(text)]


def train(texts, vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    word_counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        word_counts.update(pretokenize(text))
    words = list(word_counts.keys())
    counts = [word_counts[w] for w in words]
    symbols = [list(w) for w in words]

    vocab: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for b in range(256):
        vocab[BYTE_TO_CHAR[b]] = len(vocab)

    pair_counts: collections.Counter[tuple[str, str]] = collections.Counter()
    pair_words: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for wi, syms in enumerate(symbols):
        for pair in zip(syms, syms[1:]):
            pair_counts[pair] += counts[wi]
            pair_words[pair].add(wi)

    # Max-heap of (count, pair) with lazy invalidation: stale entries are re-pushed with their current count.
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size and heap:
        neg, best = heapq.heappop(heap)
        current = pair_counts.get(best, 0)
        if current != -neg:
            if current > 0:
                heapq.heappush(heap, (-current, best))
            continue
        if current < 2:
            break
        merged = best[0] + best[1]
        merges.append(best)
        vocab[merged] = len(vocab)
        touched: set[tuple[str, str]] = set()
        for wi in list(pair_words.pop(best, ())):
            syms = symbols[wi]
            c = counts[wi]
            for pair in zip(syms, syms[1:]):
                pair_counts[pair] -= c
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            symbols[wi] = out
            for pair in zip(out, out[1:]):
                pair_counts[pair] += c
                pair_words[pair].add(wi)
                touched.add(pair)
        pair_counts.pop(best, None)
        for pair in touched:
            if pair in pair_counts and pair != best:
                heapq.heappush(heap, (-pair_counts[pair], pair))
    return vocab, merges


class Encoder:
    """Applies merges by rank, like Hugging Face's BPE model (no dropout, no unk)."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.cache: dict[str, list[int]] = {}

    @classmethod
    def load(cls, path: Path) -> "Encoder":
        data = json.loads(Path(path).read_text())
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]]
        return cls(data["model"]["vocab"], merges)

    def _bpe(self, word: str) -> list[int]:
        cached = self.cache.get(word)
        if cached is not None:
            return cached
        syms = list(word)
        while len(syms) > 1:
            best_rank, best_i = None, -1
            for i in range(len(syms) - 1):
                rank = self.ranks.get((syms[i], syms[i + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank, best_i = rank, i
            if best_rank is None:
                break
            syms[best_i:best_i + 2] = [syms[best_i] + syms[best_i + 1]]
        ids = [self.vocab[s] for s in syms]
        if len(self.cache) < 2_000_000:
            self.cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in pretokenize(text):
            ids.extend(self._bpe(word))
        return ids

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[int]]:
        """Token ids and, for each token, the character offset in `text` where it starts."""
        ids: list[int] = []
        starts: list[int] = []
        for match in GPT2_PATTERN.finditer(text):
            piece = match.group(0)
            word = "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))
            byte_pos = 0
            piece_bytes = piece.encode("utf-8")
            for tid in self._bpe(word):
                n = len(self.id_to_token[tid])  # one char per byte in the byte-level alphabet
                # Character offset of this token's first byte (a token may start inside a multi-byte char).
                starts.append(match.start() + len(piece_bytes[:byte_pos].decode("utf-8", errors="ignore")))
                ids.append(tid)
                byte_pos += n
        return ids, starts

    def decode(self, ids) -> str:
        out = bytearray()
        for i in ids:
            tok = self.id_to_token[int(i)]
            if tok in SPECIAL_TOKENS:
                continue
            out.extend(CHAR_TO_BYTE[c] for c in tok)
        return out.decode("utf-8", errors="replace")


def tokenizer_json(vocab: dict[str, int], merges: list[tuple[str, str]]) -> dict:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, tok in enumerate(SPECIAL_TOKENS)
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def tokenizer_config() -> dict:
    return {
        "clean_up_tokenization_spaces": False,
        "pad_token": SPECIAL_TOKENS[PAD_ID],
        "mask_token": SPECIAL_TOKENS[MASK_ID],
        "eos_token": SPECIAL_TOKENS[EOS_ID],
        "model_max_length": 1024,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def save(out_dir: Path, vocab, merges) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(tokenizer_json(vocab, merges), ensure_ascii=False))
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(), indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default="build/corpus/files.jsonl")
    ap.add_argument("--out", default="build/tokenizer")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--sample-bytes", type=int, default=24_000_000, help="train on a seeded sample of this size")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    files = [json.loads(line) for line in open(args.corpus)]
    files = [f for f in files if f["split"] == "train"]
    random.Random(args.seed).shuffle(files)
    texts, total = [], 0
    for f in files:
        if total >= args.sample_bytes:
            break
        texts.append(f["text"])
        total += len(f["text"])
    vocab, merges = train(texts, args.vocab_size)
    save(Path(args.out), vocab, merges)
    enc = Encoder(vocab, merges)
    sample = texts[0][:2000]
    assert enc.decode(enc.encode(sample)) == sample, "round trip failed"
    print(json.dumps({"vocab_size": len(vocab), "merges": len(merges), "trained_on_bytes": total}), file=sys.stderr)


if __name__ == "__main__":
    main()
