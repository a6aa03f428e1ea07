// The end rule, in one place: where an end token may be committed this step, and with what certainty.
//
// An end token at canvas position i ends the completion there, so it asserts "every position from i
// on is end": committing it fills i..n-1 with end (CanvasState.fillAfterFirstEnd). Its evidence is
// therefore the weakest end evidence over that whole tail, not the probability at i alone:
//   ev(j) = 1 for a committed end, 0 for committed content (an end before it would delete it),
//           the end-token mass of the model's prediction for a masked j;
//   tail evidence e(i) = min over j >= i of ev(j).
// 'evidence' (the default) offers one end decision per step: at the earliest masked position whose
// tail evidence reaches the commit threshold τ (the same bar as any other commit), with that evidence
// as its confidence. The positions after it are covered by the decision and are not candidates, so a
// confident model ends a hole of any size in one pass wherever its content stops, and a confident
// end far from the content is allowed.
// Frequency collapse (a weak model predicts end for masks far from context, docs/diffusion.md §1) is
// held off by two things: an early end needs the whole tail behind it to agree (the minimum), and
// below τ an end may only be proposed at the rightmost masked position (ending there removes no
// content: the tail grows from the right, one position per pass, as a model that is unsure should
// pay for). Everywhere else end tokens are taken out of the proposal, so the position proposes its
// best content token. A proposal whose top-k holds nothing but ends keeps them (there is always a
// proposal); its commit then ends the completion there like any end.
// 'rightmost' is the previous rule (ends only at the rightmost masked position, kept for ablations);
// 'anywhere' takes the model's raw proposal everywhere (no protection at all).
import type { EndRuleName } from '../protocol';
import type { RowPrediction } from '../topk';
import type { Candidate } from './candidates';
import type { CanvasState } from './canvas';

export type { EndRuleName };
export const END_RULES: readonly EndRuleName[] = ['evidence', 'rightmost', 'anywhere'];

/** What the end rule decided for one step of one canvas. */
export interface EndPlan {
  /** The step's end decision (evidence rule, tail evidence >= τ): commit end at `index`. */
  tail?: Candidate;
  /** Whether the proposal at a masked index may contain end tokens (ignored for the tail index). */
  allowsEnd(index: number): boolean;
  /** Whether the index is covered by the tail decision (not a candidate of its own). */
  covered(index: number): boolean;
}

/** Probability mass of end tokens among the top-k of a prediction. */
export function endMass(prediction: RowPrediction, isEnd: (token: number) => boolean): number {
  let mass = 0;
  prediction.ids.forEach((id, i) => {
    if (isEnd(id)) {
      mass += prediction.probs[i];
    }
  });
  return mass;
}

/**
 * @param predictions the model's prediction for each masked canvas index this step
 * @param threshold the commit threshold τ an end decision must reach
 */
export function planEnds(
  state: CanvasState,
  predictions: ReadonlyMap<number, RowPrediction>,
  rule: EndRuleName,
  threshold: number,
): EndPlan {
  const isEnd = (t: number) => state.isEnd(t);
  if (rule === 'anywhere') {
    return { allowsEnd: () => true, covered: () => false };
  }
  const rightmost = rightmostOpenIndex(state);
  if (rule === 'rightmost') {
    return { allowsEnd: (i) => i === rightmost, covered: () => false };
  }
  // tailEvidence[i] = min over j >= i of ev(j), computed right to left.
  const n = state.length;
  const tailEvidence = new Array<number>(n + 1).fill(1);
  for (let j = n - 1; j >= 0; j--) {
    const p = predictions.get(j);
    const ev = state.isMasked(j) ? (p ? endMass(p, isEnd) : 0) : isEnd(state.token(j)) ? 1 : 0;
    tailEvidence[j] = Math.min(ev, tailEvidence[j + 1]);
  }
  let start = -1;
  for (let i = 0; i < n; i++) {
    if (state.isMasked(i) && predictions.has(i) && tailEvidence[i] >= threshold) {
      start = i;
      break;
    }
  }
  if (start < 0) {
    return { allowsEnd: (i) => i === rightmost, covered: () => false };
  }
  const at = predictions.get(start)!;
  let token = at.ids[0];
  let best = -1;
  at.ids.forEach((id, k) => {
    if (isEnd(id) && at.probs[k] > best) {
      best = at.probs[k];
      token = id;
    }
  });
  // The tail's uncertainty is that of its least sure row (EB-sampler sums entropies per decision).
  let entropy = 0;
  for (let j = start; j < n; j++) {
    const p = predictions.get(j);
    if (p && state.isMasked(j)) {
      entropy = Math.max(entropy, p.entropy);
    }
  }
  const evidence = tailEvidence[start];
  const tail: Candidate = {
    index: start,
    token,
    confidence: evidence,
    margin: 2 * evidence - 1,
    entropy,
  };
  return { tail, allowsEnd: () => false, covered: (i) => i > start };
}

/**
 * The rightmost masked index when everything after it is already end (or it is the last position),
 * else -1: the one place an end below τ may go without cutting committed content.
 */
function rightmostOpenIndex(state: CanvasState): number {
  for (let i = state.length - 1; i >= 0; i--) {
    if (state.isMasked(i)) {
      return i;
    }
    if (!state.isEnd(state.token(i))) {
      return -1;
    }
  }
  return -1;
}

/** The prediction without end tokens, unless nothing else is in it (there is always a proposal). */
export function withoutEnds(prediction: RowPrediction, isEnd: (token: number) => boolean): RowPrediction {
  const keep = prediction.ids.map((id) => !isEnd(id));
  if (!keep.some(Boolean) || keep.every(Boolean)) {
    return prediction;
  }
  return {
    ids: prediction.ids.filter((_, i) => keep[i]),
    probs: prediction.probs.filter((_, i) => keep[i]),
    entropy: prediction.entropy,
  };
}
