// The plain selection rules (../shared/docs/diffusion.md §4): which of this step's candidates to commit.
// Each returns at least one candidate when given any, so the denoising loop always makes progress.
import type { Candidate } from './candidates';

/** Tokens to commit this step on a top-k schedule: spread the remaining masks over the remaining steps. */
export function scheduleK(masksLeft: number, stepsLeft: number): number {
  return Math.max(1, Math.ceil(masksLeft / Math.max(1, stepsLeft)));
}

/** Certainty keys for the top-k strategies; higher = surer. Entropy is negated: low entropy is sure. */
export const certaintyKey = {
  confidence: (c: Candidate) => c.confidence,
  margin: (c: Candidate) => c.margin,
  entropy: (c: Candidate) => -c.entropy,
} as const;

/** The k candidates with the highest key (ties: leftmost first, so results are deterministic). */
export function selectTopK(
  candidates: readonly Candidate[],
  k: number,
  key: (c: Candidate) => number,
): Candidate[] {
  return sortByKey(candidates, key).slice(0, Math.max(1, k));
}

/** Fast-dLLM: the most confident candidate plus every other one with confidence >= tau. */
export function selectThreshold(candidates: readonly Candidate[], tau: number): Candidate[] {
  const sorted = sortByKey(candidates, certaintyKey.confidence);
  return sorted.filter((c, i) => i === 0 || c.confidence >= tau);
}

/**
 * EB-sampler: sort by entropy ascending and accept the largest prefix whose sum of entropies minus its
 * largest entropy is <= gamma (an upper bound on the dependency among the accepted tokens); at least one.
 */
export function selectEntropyBounded(candidates: readonly Candidate[], gamma: number): Candidate[] {
  const sorted = sortByKey(candidates, certaintyKey.entropy);
  const accepted: Candidate[] = [];
  let sum = 0;
  let max = 0;
  for (const c of sorted) {
    const nextSum = sum + c.entropy;
    const nextMax = Math.max(max, c.entropy);
    if (accepted.length > 0 && nextSum - nextMax > gamma) {
      break;
    }
    accepted.push(c);
    sum = nextSum;
    max = nextMax;
  }
  return accepted;
}

/** One token per step, most confident first: the quality reference. */
export function selectSequential(candidates: readonly Candidate[]): Candidate[] {
  return sortByKey(candidates, certaintyKey.confidence).slice(0, 1);
}

/** Descending by key; ties keep canvas order (leftmost first). */
export function sortByKey(candidates: readonly Candidate[], key: (c: Candidate) => number): Candidate[] {
  return [...candidates].sort((a, b) => key(b) - key(a) || a.index - b.index);
}
