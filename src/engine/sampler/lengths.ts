// Length search and candidates: which canvas lengths share the first pass, and which canvases go on
// after it. Infill quality hinges on the canvas length (docs/diffusion.md §2: 32.5 vs 77.4 pass@1 for
// Open-dCoder at a fixed vs the true length), so the model is asked: the candidate lengths run as one
// batch, each is scored by what its first pass would commit (score.ts), and the best continue.
import type { SamplerOptions } from '../protocol';
import type { Continuation } from './denoise';

/** The shortest and longest candidate, as multiples of the hole's own length estimate. */
export const LENGTH_SPREAD = [0.5, 2] as const;

/**
 * `sized` (the canvas the request gets without a search: selection + slack, or the default length)
 * first, then k - 1 lengths spread geometrically over 0.5x..2x `base` (the selection's tokens, or the
 * default length at a cursor), each within [1, max]; duplicates dropped.
 */
export function candidateLengths(sized: number, base: number, k: number, max: number): number[] {
  const out = [Math.min(sized, max)];
  const spread = k - 1;
  for (let j = 0; j < spread; j++) {
    const [lo, hi] = LENGTH_SPREAD;
    const f = spread === 1 ? 1 : lo * Math.pow(hi / lo, j / (spread - 1));
    const m = Math.min(max, Math.max(1, Math.round(base * f)));
    if (!out.includes(m)) {
      out.push(m);
    }
  }
  return out;
}

/**
 * After the first pass: the n best-scored lengths (ties: the shorter, it decodes the same for less),
 * then, while fewer than n, sampled copies of the best one (other seeds, candidateTemperature).
 * A preference is only taken from a model that is sure of it: when even the best length's first pass
 * is below the unsure floor (geometric-mean probability), the sized length (index 0) stays first,
 * because an unsure model ranks long runs of frequent tokens highest (frequency collapse) and a longer
 * canvas then costs passes for nothing.
 */
export function planContinuations(
  scores: readonly number[],
  lengths: readonly number[],
  options: SamplerOptions,
  wantsEmpty: readonly boolean[] = [],
): Continuation[] {
  // Empty is not a length: a canvas whose sure end starts at its first position says nothing about
  // how much room the content needs, and its one-decision score would beat any content (frequency
  // collapse again), so it is ranked last; only the sized canvas (index 0) may answer "empty".
  const rank = (i: number) => (i !== 0 && wantsEmpty[i] ? -Infinity : scores[i]);
  const order = scores.map((_, i) => i).sort((a, b) => rank(b) - rank(a) || lengths[a] - lengths[b]);
  if (!(Math.exp(rank(order[0])) >= options.unsureBelow) && options.lengthRule === 'mean-logprob') {
    order.splice(order.indexOf(0), 1);
    order.unshift(0);
  }
  const plan: Continuation[] = order
    .slice(0, Math.min(options.candidates, order.length))
    .map((from) => ({ from }));
  for (let j = 1; plan.length < options.candidates; j++) {
    plan.push({
      from: order[0],
      options: { temperature: options.candidateTemperature, seed: options.seed + j },
    });
  }
  return plan;
}
