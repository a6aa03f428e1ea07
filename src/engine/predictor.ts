// Asks the model about token positions. This is the seam between the sampler (which thinks in token
// positions) and the graph (which thinks in output rows); the mapping itself lives in shift.ts.
import type { LogitShift } from './manifest';
import { rowsForPositions } from './shift';
import type { RowPrediction } from './topk';

export type PositionPredictor = (
  inputIds: readonly number[],
  positions: readonly number[],
) => Promise<RowPrediction[]>;

/** One input of a batch: its tokens and the positions to predict. */
export interface BatchRow {
  inputIds: readonly number[];
  positions: readonly number[];
}

/** One forward pass over several inputs of equal length; predictions per row, per position. */
export type BatchPredictor = (batch: readonly BatchRow[]) => Promise<RowPrediction[][]>;

export interface RowForward {
  forward(inputIds: readonly number[], rows: readonly number[]): Promise<RowPrediction[]>;
}

export interface BatchForward {
  forwardBatch(
    inputs: readonly (readonly number[])[],
    rows: readonly (readonly number[])[],
  ): Promise<RowPrediction[][]>;
}

export function positionPredictor(model: RowForward, shift: LogitShift): PositionPredictor {
  return (inputIds, positions) => model.forward(inputIds, rowsForPositions(positions, shift));
}

export function batchPredictor(model: BatchForward, shift: LogitShift): BatchPredictor {
  return (batch) =>
    model.forwardBatch(
      batch.map((b) => b.inputIds),
      batch.map((b) => rowsForPositions(b.positions, shift)),
    );
}
