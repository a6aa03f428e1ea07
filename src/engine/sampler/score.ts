// How sure the model is of a canvas, as one number: the mean log-probability of its decisions (each
// committed completion token at the confidence it was committed with, plus the end decision when the
// completion ends inside the canvas). exp(score) is the geometric-mean probability, which is what the
// length search ranks, the candidates are ordered by and the "unsure" floor is compared with.
import type { LengthRuleName } from '../protocol';
import type { Candidate } from './candidates';
import type { CanvasState } from './canvas';

/** Probabilities are floored here so one zero does not make every score -Infinity. */
const MIN_PROBABILITY = 1e-6;

export function meanLogProbability(confidences: readonly number[]): number {
  if (confidences.length === 0) {
    return 0;
  }
  let sum = 0;
  for (const p of confidences) {
    sum += Math.log(Math.max(MIN_PROBABILITY, Math.min(1, p)));
  }
  return sum / confidences.length;
}

/** The finished canvas: completion tokens up to the first end, and the end itself. */
export function canvasScore(state: CanvasState): number {
  const end = state.firstEnd();
  const last = Math.min(state.length, end + 1);
  const confidences: number[] = [];
  for (let i = 0; i < last; i++) {
    if (!state.isMasked(i)) {
      confidences.push(state.confidence(i));
    }
  }
  return meanLogProbability(confidences);
}

export type LengthRule = LengthRuleName;
export const LENGTH_RULES: readonly LengthRule[] = ['mean-logprob', 'end-evidence'];

/**
 * A candidate length after its first pass, from what that pass would commit if decoding went on
 * greedily: every open position's proposal up to the end decision, and the end decision itself.
 * 'mean-logprob' ranks by their mean log-probability (a canvas too short for the content makes the
 * model unsure everywhere; one with room states the end with confidence); 'end-evidence' ranks by the
 * tail evidence of the end decision alone (0 without one), ties broken by the mean.
 */
export function firstPassScore(
  decisions: readonly Candidate[],
  tail: Candidate | undefined,
  rule: LengthRule,
): number {
  const mean = meanLogProbability(decisions.map((c) => c.confidence));
  if (rule === 'mean-logprob') {
    return mean;
  }
  return (tail?.confidence ?? 0) + 1e-3 * Math.exp(mean);
}
