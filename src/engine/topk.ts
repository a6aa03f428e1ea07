// Top-k, probabilities and entropy of one row of logits, for graphs that return full logits
// (the positions_topk head computes the same numbers inside ONNX).
export interface RowPrediction {
  /** The k most probable token ids, most probable first. */
  ids: number[];
  /** Their probabilities under the full softmax (temperature 1). */
  probs: number[];
  /** Entropy of the full softmax in nats. */
  entropy: number;
}

/**
 * Reads `logits[offset .. offset + vocab)` and returns the top k. `excluded` ids (the mask token) get
 * probability 0, as the positions_topk graph does with a -inf logit.
 */
export function topKFromLogits(
  logits: ArrayLike<number>,
  offset: number,
  vocab: number,
  k: number,
  excluded: readonly number[] = [],
): RowPrediction {
  const isExcluded = (id: number): boolean => excluded.includes(id);
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) {
    if (!isExcluded(v) && logits[offset + v] > max) {
      max = logits[offset + v];
    }
  }
  // Softmax via log-sum-exp; entropy H = log Z - sum p * (x - max).
  let z = 0;
  let weighted = 0;
  for (let v = 0; v < vocab; v++) {
    if (isExcluded(v)) {
      continue;
    }
    const x = logits[offset + v] - max;
    const e = Math.exp(x);
    z += e;
    weighted += e * x;
  }
  const logZ = Math.log(z);
  const entropy = logZ - weighted / z;

  // Keep a small sorted list of the best k (k is tiny next to the vocabulary).
  const ids: number[] = [];
  const vals: number[] = [];
  for (let v = 0; v < vocab; v++) {
    if (isExcluded(v)) {
      continue;
    }
    const x = logits[offset + v];
    if (ids.length === k && x <= vals[k - 1]) {
      continue;
    }
    let i = Math.min(ids.length, k - 1);
    while (i > 0 && vals[i - 1] < x) {
      i--;
    }
    ids.splice(i, 0, v);
    vals.splice(i, 0, x);
    if (ids.length > k) {
      ids.pop();
      vals.pop();
    }
  }
  return { ids, probs: vals.map((x) => Math.exp(x - max) / z), entropy: Math.max(0, entropy) };
}
