"""The corruption modes of corrupt.py as batched torch ops on the training device (the GPU run's data path).

A GPU step of a ~10M-parameter model at batch 256 x 256 takes milliseconds; building its examples one by one in numpy
takes longer than that per batch (the CPU data path, corrupt.py, is kept for the CPU runs and as the reference). Here
the whole packed split (tokens, newline flags, syntax spans, per-token identifier keys) lives on the device and a batch
is a fixed number of tensor ops, whatever the batch size: every mode is computed for every row and each row keeps
its own mode's result.

Same modes, weights and fallbacks as corrupt.py (its docstring), with two batched approximations:
  span        up to SPAN_CANDIDATES units drawn with replacement among the units starting in the window (corrupt.py
              walks all of them in random order), accepted in draw order while the masked count is below the target;
  identifier  the chosen names are the names at up to 4 random identifier positions (two positions may name the
              same identifier, so sometimes fewer distinct names than drawn).
t ~ Beta(2, 2) is drawn as the median of three uniforms (the generator API has no Beta sampler).
The batch is a pure function of (seed, step): a torch.Generator on the device is seeded with both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .bpe import MASK_ID, PAD_ID
from .corrupt import MAX_REGION_TOKENS, MODES, Split

SPAN_CANDIDATES = 16
IDENT_CHOICES = 4


@dataclass
class DeviceSplit:
    tokens: torch.Tensor      # int64 [T]
    newline: torch.Tensor     # bool [T]
    span_start: torch.Tensor  # int64 [S], sorted
    span_end: torch.Tensor    # int64 [S]
    ident_key: torch.Tensor   # int64 [T], -1 where no identifier

    @classmethod
    def from_split(cls, split: Split, device) -> "DeviceSplit":
        key = np.full(split.tokens.size, -1, dtype=np.int64)
        if len(split.idents):
            s, e, k = split.idents[:, 0], split.idents[:, 1], split.idents[:, 2]
            lengths = np.maximum(e - s, 0)
            pos = np.repeat(s, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
            key[pos] = np.repeat(k, lengths)
        spans = split.spans if len(split.spans) else np.zeros((0, 2), dtype=np.int64)
        as_t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt).to(device)  # noqa: E731
        return cls(as_t(split.tokens, torch.int64), as_t(split.newline, torch.bool), as_t(spans[:, 0], torch.int64),
                   as_t(spans[:, 1], torch.int64), as_t(key, torch.int64))


def generator_for(seed: int, step: int, device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + step) % (2 ** 63 - 1))
    return g


def _at_least_one(masked: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    none = ~masked.any(1)
    pick = torch.randint(0, masked.shape[1], (masked.shape[0],), generator=g, device=masked.device)
    forced = torch.zeros_like(masked)
    forced[torch.arange(masked.shape[0], device=masked.device), pick] = True
    return masked | (forced & none[:, None])


def _realised_weight(masked: torch.Tensor) -> torch.Tensor:
    return (1.0 / masked.float().mean(1).clamp(min=0.02))[:, None].expand_as(masked)


def make_batch(data: DeviceSplit, batch: int, length: int, g: torch.Generator, mixture) -> tuple:
    """(inputs, targets, masked, weight, modes) on the data's device; modes are indices into corrupt.MODES."""
    dev = data.tokens.device
    B, L = batch, length
    total = data.tokens.numel()
    if total < 2 * L + 2:
        raise ValueError(f"split of {total} tokens is shorter than two windows of {L}")
    pos = torch.arange(L, device=dev)
    starts = torch.randint(0, total - 2 * L - 1, (B,), generator=g, device=dev)
    cum = torch.cumsum(torch.tensor(mixture, dtype=torch.float64, device=dev), 0)
    mode = torch.searchsorted(cum / cum[-1], torch.rand(B, generator=g, device=dev, dtype=torch.float64),
                              right=True).clamp(max=len(MODES) - 1)
    x = data.tokens[starts[:, None] + pos]
    t = torch.rand(B, 3, generator=g, device=dev).median(dim=1).values.clamp(0.02, 0.98)

    # uniform: each token with probability t, weight 1/t.
    uni = _at_least_one(torch.rand(B, L, generator=g, device=dev) < t[:, None], g)
    uni_w = (1.0 / t)[:, None].expand(B, L)

    # span: whole units inside the window until about t*L tokens are masked.
    lo = torch.searchsorted(data.span_start, starts)
    hi = torch.searchsorted(data.span_start, starts + L)
    count = hi - lo
    draw = (torch.rand(B, SPAN_CANDIDATES, generator=g, device=dev) * count[:, None]).long()
    j = (lo[:, None] + torch.minimum(draw, (count[:, None] - 1).clamp(min=0))).clamp(0, max(data.span_start.numel() - 1, 0))
    if data.span_start.numel():
        s = data.span_start[j] - starts[:, None]
        e = data.span_end[j] - starts[:, None]
    else:
        s = e = torch.zeros_like(j)
    size = e - s
    target = (t * L).round().long().clamp(min=1)
    valid = (count[:, None] > 0) & (e <= L) & (size > 0) & (size <= target[:, None])
    sizes = size * valid
    accepted = valid & ((torch.cumsum(sizes, 1) - sizes) < target[:, None])
    span = ((pos >= s[..., None]) & (pos < e[..., None]) & accepted[..., None]).any(1)
    span_ok = span.any(1)
    span_w = _realised_weight(span)

    # identifier: every occurrence of a few names in the window, plus 5% uniform noise.
    keys = data.ident_key[starts[:, None] + pos]
    has = keys >= 0
    score = torch.where(has, torch.rand(B, L, generator=g, device=dev), torch.full((B, L), -1.0, device=dev))
    top_score, top = score.topk(IDENT_CHOICES, dim=1)
    n_names = torch.randint(1, IDENT_CHOICES + 1, (B,), generator=g, device=dev)
    chosen_ok = (torch.arange(IDENT_CHOICES, device=dev) < n_names[:, None]) & (top_score >= 0)
    chosen = keys.gather(1, top)
    ident = ((keys[:, :, None] == chosen[:, None, :]) & chosen_ok[:, None, :]).any(-1) & has
    ident = _at_least_one(ident | (torch.rand(B, L, generator=g, device=dev) < 0.05), g)
    ident_ok = has.any(1)
    ident_w = _realised_weight(ident)

    # region: a line-aligned hole whose canvas (truth + pad tail) replaces it, cropped to L with context both sides.
    wpos = torch.arange(2 * L, device=dev)
    nl = data.newline[starts[:, None] + wpos]
    a_score = torch.where(nl[:, :L - 1], torch.rand(B, L - 1, generator=g, device=dev),
                          torch.full((B, L - 1), -1.0, device=dev))
    a_best, a_idx = a_score.max(1)
    a = a_idx + 1  # the region starts on the token after a newline
    max_region = min(MAX_REGION_TOKENS, L // 2)
    b_cand = nl & (wpos >= a[:, None]) & (wpos < (a + max_region)[:, None])
    b_score = torch.where(b_cand, torch.rand(B, 2 * L, generator=g, device=dev), torch.full((B, 2 * L), -1.0, device=dev))
    b_best, b_idx = b_score.max(1)
    b = b_idx + 1  # ... and ends on a newline token
    region_ok = (a_best >= 0) & (b_best >= 0)
    m = (b - a).clamp(min=1)
    extra_hi = torch.clamp(m // 2, min=4) + 1
    extra = torch.minimum((torch.rand(B, generator=g, device=dev) * extra_hi).long(), L - m).clamp(min=0)
    canvas = m + extra
    room = L - canvas
    room_lo = room // 4
    left = room_lo + (torch.rand(B, generator=g, device=dev) * (room - room_lo + 1).clamp(min=1)).long()
    left = torch.where(room > 0, torch.minimum(left, a), torch.zeros_like(left))
    crop = a - left
    q = crop[:, None] + pos  # position in window[:a] + canvas + window[b:]
    in_truth = q < (a + m)[:, None]
    in_pad = ~in_truth & (q < (a + canvas)[:, None])
    src = torch.where(in_truth, q, q - extra[:, None]).clamp(0, 2 * L - 1)
    region_seq = torch.where(in_pad, torch.full_like(q, PAD_ID), data.tokens[starts[:, None] + src])
    in_canvas = (pos >= left[:, None]) & (pos < (left + canvas)[:, None])
    full = torch.rand(B, generator=g, device=dev) < 0.5
    p = torch.where(full, torch.ones(B, device=dev), 0.3 + 0.7 * torch.rand(B, generator=g, device=dev))
    region = in_canvas & (full[:, None] | (torch.rand(B, L, generator=g, device=dev) < p[:, None]))
    first = torch.zeros_like(region)
    first[torch.arange(B, device=dev), left.clamp(0, L - 1)] = True
    region = region | (first & ~region.any(1, keepdim=True))
    region_w = (1.0 / p)[:, None].expand(B, L)

    # Each row keeps its mode's result; a mode that cannot apply to its window falls back to uniform (as corrupt.py).
    mode = torch.where((mode == 1) & ~span_ok, torch.zeros_like(mode), mode)
    mode = torch.where((mode == 2) & ~ident_ok, torch.zeros_like(mode), mode)
    mode = torch.where((mode == 3) & ~region_ok, torch.zeros_like(mode), mode)
    sel = [(mode == k)[:, None] for k in range(4)]
    masked = torch.where(sel[1], span, torch.where(sel[2], ident, torch.where(sel[3], region, uni)))
    weight = torch.where(sel[1], span_w, torch.where(sel[2], ident_w, torch.where(sel[3], region_w, uni_w)))
    targets = torch.where(sel[3], region_seq, x)
    inputs = torch.where(masked, torch.full_like(targets, MASK_ID), targets)
    return inputs, targets, masked, weight.float(), mode
