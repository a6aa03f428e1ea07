// The logit shift is applied in exactly one place: shifted models read row i-1 for position i.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { positionPredictor } from '../../src/engine/predictor';
import { leadingContextRequired, rowForPosition, rowsForPositions } from '../../src/engine/shift';
import type { RowPrediction } from '../../src/engine/topk';

describe('logit shift', () => {
  it('none: row i; shifted: row i - 1', () => {
    assert.equal(rowForPosition(5, 'none'), 5);
    assert.equal(rowForPosition(5, 'shifted'), 4);
    assert.deepEqual(rowsForPositions([1, 2, 9], 'shifted'), [0, 1, 8]);
    assert.equal(rowForPosition(0, 'none'), 0);
  });

  it('a shifted model cannot predict position 0 and needs one leading token', () => {
    assert.throws(() => rowForPosition(0, 'shifted'), /cannot predict token position 0/);
    assert.equal(leadingContextRequired('shifted'), 1);
    assert.equal(leadingContextRequired('none'), 0);
  });

  it('the predictor asks the graph for shifted rows (recorded call)', async () => {
    const calls: number[][] = [];
    const graph = {
      forward: async (_ids: readonly number[], rows: readonly number[]): Promise<RowPrediction[]> => {
        calls.push([...rows]);
        return rows.map((r) => ({ ids: [r], probs: [1], entropy: 0 }));
      },
    };
    const shifted = await positionPredictor(graph, 'shifted')([7, 8, 9, 10], [2, 3]);
    const plain = await positionPredictor(graph, 'none')([7, 8, 9, 10], [2, 3]);
    assert.deepEqual(calls, [
      [1, 2],
      [2, 3],
    ]);
    assert.deepEqual(
      shifted.map((p) => p.ids[0]),
      [1, 2],
    );
    assert.deepEqual(
      plain.map((p) => p.ids[0]),
      [2, 3],
    );
  });
});
