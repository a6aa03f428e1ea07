// Character spans of tokens within their decoded text. Byte-level BPE tokens can split a character, so
// spans come from decoding growing prefixes rather than from per-token text lengths.
export interface Span {
  start: number;
  end: number;
}

export function tokenSpans(ids: readonly number[], decode: (ids: readonly number[]) => string): Span[] {
  const spans: Span[] = [];
  let previous = 0;
  for (let i = 0; i < ids.length; i++) {
    const length = decode(ids.slice(0, i + 1)).length;
    spans.push({ start: previous, end: Math.max(previous, length) });
    previous = Math.max(previous, length);
  }
  return spans;
}

/**
 * Tokens touching any range. A zero-width range (a MISSING node) marks the token that contains its
 * offset and the token that ends right at it (the one after which something is missing).
 */
export function tokensInRanges(spans: readonly Span[], ranges: readonly Span[]): number[] {
  const out: number[] = [];
  spans.forEach((s, i) => {
    const hit = ranges.some((r) =>
      r.start === r.end
        ? (s.start <= r.start && r.start < s.end) || s.end === r.start
        : s.start < r.end && r.start < s.end,
    );
    if (hit) {
      out.push(i);
    }
  });
  return out;
}
