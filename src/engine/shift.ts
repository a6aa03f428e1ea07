// The ONE place that maps token positions to output rows of the graph (docs/model-format.md, "The logit
// shift is applied in exactly one place"). A `shifted` model (Dream family) predicts token i from output
// row i - 1; a `none` model from row i. Everything that asks the model about positions goes through here.
import { EngineError } from './errors';
import type { LogitShift } from './manifest';

export function rowForPosition(position: number, shift: LogitShift): number {
  const row = shift === 'shifted' ? position - 1 : position;
  if (row < 0) {
    // The request builder always puts a context token (or bos) before the canvas, so this is a bug.
    throw new EngineError('internal', `a shifted model cannot predict token position ${position}`);
  }
  return row;
}

export function rowsForPositions(positions: readonly number[], shift: LogitShift): number[] {
  return positions.map((p) => rowForPosition(p, shift));
}

/** How many tokens must precede the first predicted position. */
export function leadingContextRequired(shift: LogitShift): number {
  return shift === 'shifted' ? 1 : 0;
}
