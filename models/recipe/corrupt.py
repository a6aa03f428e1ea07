"""Training examples for the masked-diffusion objective: a window of the packed corpus plus a corruption.

Every corruption returns (input_ids, targets, masked, weight): the loss is the cross-entropy at masked positions,
each weighted by 1/p_i, its own mask probability (docs: ../shared/docs/diffusion.md §2-3).

Modes (one per example):
  uniform     each token masked with p = t, t from a bell-shaped law clipped to [0.02, 0.98]       weight 1/t
  span        whole syntax units (tree-sitter statements, expressions, blocks, argument lists) until about
              t*L tokens are masked                                                            weight 1/(masked/L)
  identifier  every occurrence of a few identifiers in the window, plus light uniform noise     weight 1/(masked/L)
  region      one contiguous line-aligned region, its canvas longer than the truth with the tail filled with
              <|pad|> (the end-of-infill token); fully masked in half the examples, otherwise each canvas
              position masked with p ~ U(0.3, 1) (the partially revealed states the decoder meets)   weight 1/p
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bpe import MASK_ID, PAD_ID

MODES = ("uniform", "span", "identifier", "region")
STRUCTURED_MIXTURE = (0.3, 0.25, 0.15, 0.3)
UNIFORM_ONLY = (1.0, 0.0, 0.0, 0.0)
MAX_REGION_TOKENS = 96


@dataclass
class Split:
    tokens: np.ndarray
    newline: np.ndarray
    spans: np.ndarray
    idents: np.ndarray

    @classmethod
    def load(cls, path) -> "Split":
        d = np.load(path)
        return cls(d["tokens"].astype(np.int64), d["newline"], d["spans"].astype(np.int64), d["idents"].astype(np.int64))


def sample_t(rng: np.random.Generator) -> float:
    return float(np.clip(rng.beta(2.0, 2.0), 0.02, 0.98))


def in_window(ranges: np.ndarray, start: int, end: int) -> np.ndarray:
    lo = np.searchsorted(ranges[:, 0], start, side="left")
    hi = np.searchsorted(ranges[:, 0], end, side="left")
    window = ranges[lo:hi]
    return window[window[:, 1] <= end]


def uniform(x: np.ndarray, rng: np.random.Generator, t: float | None = None):
    t = sample_t(rng) if t is None else t
    masked = rng.random(x.size) < t
    if not masked.any():
        masked[rng.integers(x.size)] = True
    return masked, np.full(x.size, 1.0 / t, dtype=np.float32)


def realised_weight(masked: np.ndarray) -> np.ndarray:
    p = max(masked.mean(), 0.02)
    return np.full(masked.size, 1.0 / p, dtype=np.float32)


def span_mask(x: np.ndarray, start: int, split: Split, rng: np.random.Generator):
    spans = in_window(split.spans, start, start + x.size)
    if len(spans) == 0:
        return uniform(x, rng)
    target = max(1, int(round(sample_t(rng) * x.size)))
    masked = np.zeros(x.size, dtype=bool)
    for i in rng.permutation(len(spans)):
        s, e = spans[i] - start
        if e - s > target:
            continue
        masked[s:e] = True
        if masked.sum() >= target:
            break
    if not masked.any():
        # Every unit in the window is longer than the target: fall back to uniform noise.
        return uniform(x, rng)
    return masked, realised_weight(masked)


def identifier_mask(x: np.ndarray, start: int, split: Split, rng: np.random.Generator):
    occurrences = in_window(split.idents, start, start + x.size)
    if len(occurrences) == 0:
        return uniform(x, rng)
    keys = np.unique(occurrences[:, 2])
    chosen = rng.choice(keys, size=min(len(keys), int(rng.integers(1, 5))), replace=False)
    masked = rng.random(x.size) < 0.05
    for s, e, key in occurrences:
        if key in chosen:
            masked[s - start:e - start] = True
    if not masked.any():
        masked[rng.integers(x.size)] = True
    return masked, realised_weight(masked)


def region_example(window: np.ndarray, start: int, split: Split, length: int, rng: np.random.Generator):
    """A line-aligned hole with a canvas longer than the truth; returns the rebuilt sequence of `length` tokens."""
    newline_at = np.flatnonzero(split.newline[start:start + window.size])
    first_half = newline_at[newline_at < length - 1]  # so the crop below always keeps `length` tokens
    if len(first_half) == 0:
        return None
    a = int(rng.choice(first_half)) + 1  # region starts on the token after a newline
    max_region = min(MAX_REGION_TOKENS, length // 2)
    ends = newline_at[(newline_at >= a) & (newline_at < a + max_region)]
    if len(ends) == 0:
        return None
    b = int(rng.choice(ends)) + 1  # ... and ends on a newline token
    truth = window[a:b]
    extra = min(int(rng.integers(0, max(4, truth.size // 2) + 1)), length - truth.size)
    canvas = np.concatenate([truth, np.full(extra, PAD_ID, dtype=np.int64)])
    seq = np.concatenate([window[:a], canvas, window[b:]])
    # Crop to `length`, keeping the whole canvas and as much context on both sides as fits.
    room = length - canvas.size
    left = min(a, int(rng.integers(room // 4, room + 1)) if room > 0 else 0)
    crop = a - left
    seq = seq[crop:crop + length]
    if seq.size < length:
        return None
    lo, hi = a - crop, a - crop + canvas.size
    masked = np.zeros(length, dtype=bool)
    if rng.random() < 0.5:
        p = 1.0
        masked[lo:hi] = True
    else:
        p = float(rng.uniform(0.3, 1.0))
        masked[lo:hi] = rng.random(canvas.size) < p
        if not masked.any():
            masked[lo] = True
    return seq, masked, np.full(length, 1.0 / p, dtype=np.float32)


def make_example(split: Split, length: int, rng: np.random.Generator, mixture=STRUCTURED_MIXTURE):
    """One corrupted training example: (input_ids, targets, masked, weight, mode)."""
    # Region examples need a longer window: the canvas adds pad tokens, the crop removes as many.
    start = int(rng.integers(0, split.tokens.size - 2 * length - 1))
    mode = MODES[int(rng.choice(len(MODES), p=mixture))]
    if mode == "region":
        built = region_example(split.tokens[start:start + 2 * length], start, split, length, rng)
        if built is not None:
            seq, masked, weight = built
            return np.where(masked, MASK_ID, seq), seq, masked, weight, mode
        mode = "uniform"
    x = split.tokens[start:start + length]
    if mode == "span":
        masked, weight = span_mask(x, start, split, rng)
    elif mode == "identifier":
        masked, weight = identifier_mask(x, start, split, rng)
    else:
        masked, weight = uniform(x, rng)
    return np.where(masked, MASK_ID, x), x, masked, weight, mode


def make_batch(split: Split, batch: int, length: int, rng: np.random.Generator, mixture=STRUCTURED_MIXTURE):
    examples = [make_example(split, length, rng, mixture) for _ in range(batch)]
    inputs = np.stack([e[0] for e in examples])
    targets = np.stack([e[1] for e in examples])
    masked = np.stack([e[2] for e in examples])
    weight = np.stack([e[3] for e in examples])
    modes = [e[4] for e in examples]
    return inputs, targets, masked, weight, modes
