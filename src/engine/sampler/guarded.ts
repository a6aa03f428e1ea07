// Our default rule: threshold decoding ordered by confidence plus the position prior, filtered by the
// dependency guard. The best-scored candidate always commits, so every step makes progress.
import type { Candidate } from './candidates';

export interface GuardedRule {
  threshold: number;
  /** Score bonus from the position prior (0 when the prior is off). */
  bonus(c: Candidate): number;
  /** Whether two candidates may not commit in the same step (never, when the guard is off). */
  dependent(a: Candidate, b: Candidate): boolean;
  /** Called for each candidate that reached the threshold but was held back by the guard. */
  onDeferred?(c: Candidate): void;
}

export function selectGuarded(candidates: readonly Candidate[], rule: GuardedRule): Candidate[] {
  const scored = candidates
    .map((c) => ({ c, score: c.confidence + rule.bonus(c) }))
    .sort((x, y) => y.score - x.score || x.c.index - y.c.index);
  const accepted: Candidate[] = [];
  for (const { c } of scored) {
    if (accepted.length === 0) {
      accepted.push(c);
      continue;
    }
    if (c.confidence < rule.threshold) {
      continue;
    }
    if (accepted.some((a) => rule.dependent(a, c))) {
      rule.onDeferred?.(c);
      continue;
    }
    accepted.push(c);
  }
  return accepted;
}
