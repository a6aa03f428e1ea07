// Selection rules on synthetic candidates: the most certain position first (for every certainty
// measure, entropy included), thresholds and bounds respected, at least one commit, guard respected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Candidate } from '../../src/engine/sampler/candidates';
import { dependent, type GuardView } from '../../src/engine/sampler/guard';
import { selectGuarded } from '../../src/engine/sampler/guarded';
import { contextDistances, currentBlock, priorBonus } from '../../src/engine/sampler/prior';
import {
  certaintyKey,
  scheduleK,
  selectEntropyBounded,
  selectSequential,
  selectThreshold,
  selectTopK,
} from '../../src/engine/sampler/strategies';
import { gluesIntoIdentifier, isStructuralPiece } from '../../src/engine/sampler/token-classes';

const cand = (
  index: number,
  confidence: number,
  entropy: number,
  margin = confidence / 2,
  token = 100 + index,
): Candidate => ({
  index,
  token,
  confidence,
  entropy,
  margin,
});

describe('top-k strategies', () => {
  // Position 2 is the surest by every measure; position 0 is the least sure.
  const candidates = [
    cand(0, 0.2, 3.0, 0.05),
    cand(1, 0.6, 1.5, 0.3),
    cand(2, 0.95, 0.1, 0.9),
    cand(3, 0.5, 2.0, 0.2),
  ];

  for (const key of ['confidence', 'margin', 'entropy'] as const) {
    it(`${key}: the most certain position is chosen first`, () => {
      assert.deepEqual(
        selectTopK(candidates, 1, certaintyKey[key]).map((c) => c.index),
        [2],
      );
      assert.deepEqual(
        selectTopK(candidates, 2, certaintyKey[key]).map((c) => c.index),
        [2, 1],
      );
    });
  }

  it('entropy: lowest entropy wins even when confidence disagrees', () => {
    const picks = selectTopK([cand(0, 0.9, 2.5), cand(1, 0.4, 0.2)], 1, certaintyKey.entropy);
    assert.equal(picks[0].index, 1);
  });

  it('schedule spreads masks over the remaining steps and commits at least one', () => {
    assert.equal(scheduleK(64, 16), 4);
    assert.equal(scheduleK(65, 16), 5);
    assert.equal(scheduleK(3, 16), 1);
    assert.equal(scheduleK(10, 0), 10);
    assert.equal(scheduleK(10, -3), 10);
  });

  it('k never returns an empty selection', () => {
    assert.equal(selectTopK(candidates, 0, certaintyKey.confidence).length, 1);
  });
});

describe('threshold (Fast-dLLM)', () => {
  it('commits the best plus every candidate at or above tau, nothing below', () => {
    const picked = selectThreshold(
      [cand(0, 0.95, 0), cand(1, 0.89, 0), cand(2, 0.9, 0), cand(3, 0.99, 0)],
      0.9,
    );
    assert.deepEqual(
      picked.map((c) => c.index),
      [3, 0, 2],
    );
    assert.ok(picked.every((c) => c.confidence >= 0.9));
  });

  it('always commits one even when none reaches tau', () => {
    const picked = selectThreshold([cand(0, 0.1, 0), cand(1, 0.3, 0), cand(2, 0.2, 0)], 0.9);
    assert.deepEqual(
      picked.map((c) => c.index),
      [1],
    );
  });
});

describe('entropy-bounded (EB-sampler)', () => {
  const candidates = [
    cand(0, 0.5, 0.4),
    cand(1, 0.5, 0.05),
    cand(2, 0.5, 0.3),
    cand(3, 0.5, 2.0),
    cand(4, 0.5, 0.1),
  ];

  it('accepts the largest low-entropy prefix with sum H - max H <= gamma', () => {
    const picked = selectEntropyBounded(candidates, 0.5);
    // sorted: 0.05, 0.1, 0.3, 0.4, 2.0 -> prefix sums minus max: 0, 0.05, 0.15, 0.45, 0.85
    assert.deepEqual(
      picked.map((c) => c.index),
      [1, 4, 2, 0],
    );
    const h = picked.map((c) => c.entropy);
    assert.ok(h.reduce((a, b) => a + b, 0) - Math.max(...h) <= 0.5);
  });

  it('sorts entropy ascending: the first accepted is the most certain', () => {
    assert.equal(selectEntropyBounded(candidates, 0)[0].index, 1);
  });

  it('gamma 0 commits exactly one; never zero', () => {
    assert.equal(selectEntropyBounded(candidates, 0).length, 1);
    assert.equal(selectEntropyBounded([cand(0, 0.1, 9)], 0).length, 1);
  });
});

describe('sequential', () => {
  it('commits exactly the most confident position', () => {
    const picked = selectSequential([cand(0, 0.3, 1), cand(1, 0.99, 1), cand(2, 0.98, 1)]);
    assert.deepEqual(
      picked.map((c) => c.index),
      [1],
    );
  });
});

describe('dependency guard', () => {
  const pieces: Record<number, string> = {
    10: 'get',
    11: 'User',
    12: 'Name',
    13: '(',
    14: ' x',
    15: ')',
    99: '<end>',
  };
  const committed = new Map<number, number>();
  const view: GuardView = {
    committed: (i) => committed.get(i),
    piece: (t) => pieces[t] ?? '?',
    isEnd: (t) => t === 99,
    certainty: 0.98,
  };

  it('adjacent positions are dependent unless both are near-certain', () => {
    assert.equal(dependent(cand(3, 0.95, 0, 0, 13), cand(4, 0.99, 0, 0, 14), view), true);
    assert.equal(dependent(cand(3, 0.985, 0, 0, 13), cand(4, 0.99, 0, 0, 14), view), false);
  });

  it('positions that would glue into one identifier are dependent', () => {
    committed.set(6, 11); // "User" committed between them
    assert.equal(dependent(cand(5, 0.95, 0, 0, 10), cand(7, 0.95, 0, 0, 12), view), true);
    committed.set(6, 13); // "(" separates them
    assert.equal(dependent(cand(5, 0.95, 0, 0, 10), cand(7, 0.95, 0, 0, 12), view), false);
    committed.clear();
  });

  it('a run of end tokens is not a dependency', () => {
    assert.equal(dependent(cand(8, 0.9, 0, 0, 99), cand(9, 0.9, 0, 0, 99), view), false);
  });

  it('guarded selection never commits two dependent positions in one step', () => {
    const candidates = [
      cand(0, 0.95, 0, 0, 10),
      cand(1, 0.96, 0, 0, 11),
      cand(2, 0.97, 0, 0, 12),
      cand(4, 0.93, 0, 0, 13),
    ];
    const picked = selectGuarded(candidates, {
      threshold: 0.9,
      bonus: () => 0,
      dependent: (a, b) => dependent(a, b, view),
    });
    const idx = picked.map((c) => c.index).sort((a, b) => a - b);
    for (let i = 1; i < idx.length; i++) {
      assert.ok(idx[i] - idx[i - 1] > 1, `adjacent commits ${idx}`);
    }
    assert.deepEqual(idx, [0, 2, 4]);
  });

  it('guard off lets adjacent confident positions commit together', () => {
    const candidates = [cand(0, 0.95, 0, 0, 10), cand(1, 0.96, 0, 0, 11)];
    const picked = selectGuarded(candidates, { threshold: 0.9, bonus: () => 0, dependent: () => false });
    assert.equal(picked.length, 2);
  });

  it('guarded respects the threshold and commits at least one', () => {
    const picked = selectGuarded([cand(0, 0.5, 0), cand(5, 0.6, 0)], {
      threshold: 0.9,
      bonus: () => 0,
      dependent: () => false,
    });
    assert.deepEqual(
      picked.map((c) => c.index),
      [5],
    );
  });
});

describe('position prior', () => {
  it('distance to nearest visible token counts context on both sides', () => {
    const masked = [true, true, false, true, true, true];
    assert.deepEqual(contextDistances(masked, true, true), [1, 1, 0, 1, 2, 1]);
    assert.deepEqual(contextDistances(masked, false, false), [2, 1, 0, 1, 2, 3]);
    assert.deepEqual(contextDistances([true, true], false, false), [Infinity, Infinity]);
  });

  it('the forced pick prefers the position next to context over an equally confident far one', () => {
    const masked = [true, true, true, true, true, true, true, true];
    const d = contextDistances(masked, true, false);
    const picked = selectGuarded([cand(5, 0.5, 0), cand(0, 0.5, 0)], {
      threshold: 0.9,
      bonus: (c) => priorBonus(d[c.index], false),
      dependent: () => false,
    });
    assert.equal(picked[0].index, 0);
  });

  it('structural proposals get a bonus', () => {
    assert.ok(priorBonus(4, true) > priorBonus(4, false));
    assert.ok(isStructuralPiece(')'));
    assert.ok(isStructuralPiece('\n    '));
    assert.ok(isStructuralPiece(' {'));
    assert.ok(!isStructuralPiece(' foo'));
    assert.ok(!isStructuralPiece('    '));
  });

  it('identifier gluing', () => {
    assert.ok(gluesIntoIdentifier([' get', 'User', 'Name']));
    assert.ok(!gluesIntoIdentifier(['get', '(', 'x']));
    assert.ok(!gluesIntoIdentifier(['a', ' b']));
  });

  it('block order: only the leftmost unfinished block is eligible', () => {
    assert.deepEqual(currentBlock([5, 6, 9, 12, 40], 8), [5, 6]);
    assert.deepEqual(currentBlock([9, 12, 40], 8), [9, 12]);
    assert.deepEqual(currentBlock([9, 12, 40], 0), [9, 12, 40]);
  });
});
