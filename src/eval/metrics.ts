// Scores of one completion against its reference and summaries over many: exact match after
// whitespace normalisation, character edit similarity, quantiles.

/** Runs of whitespace become one space; leading and trailing whitespace is dropped. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function exactMatch(completion: string, reference: string): boolean {
  return normalizeWhitespace(completion) === normalizeWhitespace(reference);
}

/** Levenshtein distance over UTF-16 code units (insert, delete, substitute; each costs 1). */
export function levenshtein(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  if (a.length < b.length) {
    [a, b] = [b, a];
  }
  if (b.length === 0) {
    return a.length;
  }
  let prev = new Uint32Array(b.length + 1);
  let cur = new Uint32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) {
    prev[j] = j;
  }
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1] + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const del = prev[j] + 1;
      const ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** 1 - levenshtein / max length, in [0, 1]; two empty strings are identical (1). */
export function editSimilarity(completion: string, reference: string): number {
  const longest = Math.max(completion.length, reference.length);
  return longest === 0 ? 1 : 1 - levenshtein(completion, reference) / longest;
}

/** Linear-interpolated quantile (q in [0, 1]); NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Rounds for reports (keeps JSON readable); NaN and infinities become null in JSON anyway. */
export function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
