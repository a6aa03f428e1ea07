// Dependency guard (../shared/docs/diffusion.md §4, issue (ii)): committing several positions in one step samples a
// product of marginals, which can mix modes that never co-occur (two halves of different identifiers).
// Two positions may not commit together when adjacent or inside the same identifier, unless both are
// near-certain.
import type { Candidate } from './candidates';
import { gluesIntoIdentifier } from './token-classes';

export interface GuardView {
  /** Committed token at a canvas index, or undefined while masked. */
  committed(index: number): number | undefined;
  piece(token: number): string;
  isEnd(token: number): boolean;
  certainty: number;
}

/** Identifiers rarely span more tokens than this; farther pairs are not checked for gluing. */
const MAX_IDENTIFIER_SPAN = 8;

export function dependent(a: Candidate, b: Candidate, view: GuardView): boolean {
  if (a.confidence >= view.certainty && b.confidence >= view.certainty) {
    return false;
  }
  if (view.isEnd(a.token) && view.isEnd(b.token)) {
    // A run of end tokens in the unused tail is one decision, not a mix of two.
    return false;
  }
  const [lo, hi] = a.index < b.index ? [a, b] : [b, a];
  if (hi.index - lo.index === 1) {
    return true;
  }
  if (hi.index - lo.index > MAX_IDENTIFIER_SPAN) {
    return false;
  }
  const pieces = [view.piece(lo.token)];
  for (let i = lo.index + 1; i < hi.index; i++) {
    const token = view.committed(i);
    if (token === undefined) {
      return false;
    }
    pieces.push(view.piece(token));
  }
  pieces.push(view.piece(hi.token));
  return gluesIntoIdentifier(pieces);
}
