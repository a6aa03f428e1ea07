// Turns the model's top-k prediction at a masked position into a proposal and its certainty measures.
import type { RowPrediction } from '../topk';
import type { Random } from './prng';

/** A masked canvas position with the token the model proposes for it. */
export interface Candidate {
  /** Canvas index (0 = first canvas position). */
  index: number;
  token: number;
  /** Probability of the proposed token. */
  confidence: number;
  /** p(top1) - p(top2). */
  margin: number;
  /** Entropy of the full distribution, nats (lower = surer). */
  entropy: number;
}

/** Greedy (temperature 0) takes the argmax; otherwise samples the renormalised top-k at `temperature`. */
export function proposeCandidate(
  index: number,
  prediction: RowPrediction,
  temperature: number,
  random: Random,
): Candidate {
  const { ids, probs } = prediction;
  const margin = probs.length > 1 ? probs[0] - probs[1] : probs[0];
  let pick = 0;
  if (temperature > 0 && ids.length > 1) {
    const weights = probs.map((p) => Math.pow(Math.max(p, 1e-30), 1 / temperature));
    const total = weights.reduce((a, b) => a + b, 0);
    let r = random() * total;
    pick = weights.length - 1;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) {
        pick = i;
        break;
      }
    }
  }
  return { index, token: ids[pick], confidence: probs[pick], margin, entropy: prediction.entropy };
}
