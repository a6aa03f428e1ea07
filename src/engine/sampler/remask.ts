// Late remasking (ReMDM-style self-correction, plus ours: parse errors). Once the canvas is fully
// committed, committed tokens that were committed with low confidence, or that sit inside a parse error,
// are masked again and predicted once more with the finished context around them. Bounded per position
// and per request so the loop always terminates.
import type { CanvasState } from './canvas';

/** Committed tokens below this confidence (at commit time) are re-predicted. */
export const REMASK_FLOOR = 0.3;
/** A position is re-masked at most this many times. */
export const MAX_REMASKS_PER_POSITION = 1;
/** Review passes (fully committed -> remask -> refill) per request. */
export const REVIEW_ROUNDS = 2;
/** At most this fraction of the canvas is re-masked per review. */
export const REMASK_FRACTION = 0.25;

export function remaskCap(canvasLength: number): number {
  return Math.max(1, Math.floor(canvasLength * REMASK_FRACTION));
}

/** Completion positions (before the first end) that may still be re-masked, lowest confidence first. */
function remaskable(state: CanvasState, indices: Iterable<number>): number[] {
  const end = state.firstEnd();
  const out: number[] = [];
  for (const i of indices) {
    if (i < end && !state.isMasked(i) && state.remaskCount(i) < MAX_REMASKS_PER_POSITION) {
      out.push(i);
    }
  }
  return out.sort((a, b) => state.confidence(a) - state.confidence(b) || a - b);
}

export function lowConfidencePositions(state: CanvasState, floor: number, cap: number): number[] {
  const all = Array.from({ length: state.length }, (_, i) => i);
  return remaskable(state, all)
    .filter((i) => state.confidence(i) < floor)
    .slice(0, cap);
}

export function parseErrorPositions(
  state: CanvasState,
  errorIndices: readonly number[],
  cap: number,
): number[] {
  return remaskable(state, new Set(errorIndices)).slice(0, cap);
}
