// The length chosen by the model (issue 12): candidate lengths share one batched first pass, the best
// continues; NFE counted per call and per batch row; candidates; the batched graph call itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InfillEngine } from '../../src/engine/engine';
import { loadManifest } from '../../src/engine/manifest';
import type { BatchPredictor } from '../../src/engine/predictor';
import type { InfillRequest, SamplerOptions } from '../../src/engine/protocol';
import { CanvasState } from '../../src/engine/sampler/canvas';
import { denoiseBatch, type CanvasSpec } from '../../src/engine/sampler/denoise';
import { candidateLengths, planContinuations } from '../../src/engine/sampler/lengths';
import { DEFAULT_SAMPLER_OPTIONS } from '../../src/engine/sampler/options';
import { ModelSession } from '../../src/engine/session';
import type { RowPrediction } from '../../src/engine/topk';
import { FIXTURE_DIR, fixtureSkip, prediction } from './helpers';

const MASK = 0;
const END = 1;
const START = 2;
const LONGEST = 16;
const pieces = { piece: (t: number) => (t === END ? '<end>' : ` w${t}`) };
const options = (extra: Partial<SamplerOptions> = {}): SamplerOptions => ({
  ...DEFAULT_SAMPLER_OPTIONS,
  ...extra,
});

/** Canvases as the engine lays them out: one window, a shorter canvas followed by end tokens. */
function canvases(lengths: number[], extra: Partial<SamplerOptions> = {}): CanvasSpec[] {
  return lengths.map((m) => {
    const ids = [50, 51, ...new Array<number>(LONGEST).fill(MASK), 60];
    ids.fill(END, START + m, START + LONGEST);
    return {
      state: new CanvasState(ids, START, m, { mask: MASK, ends: new Set([END]) }),
      hasLeftContext: true,
      hasRightContext: true,
      options: options(extra),
    };
  });
}

/** Room a row gives its completion: canvas positions before the first end token. */
function room(ids: readonly number[]): number {
  const end = ids.indexOf(END, START);
  return (end < 0 ? ids.length - 1 : end) - START;
}

/** A batch predictor from a per-row rule; records the batch size of every call. */
function batched(
  rule: (ids: readonly number[], i: number) => RowPrediction,
  calls: number[],
): BatchPredictor {
  return async (batch) => {
    calls.push(batch.length);
    return batch.map((row) => row.positions.map((p) => rule(row.inputIds, p - START)));
  };
}

describe('candidate lengths', () => {
  it('the sized canvas first, then 0.5x..2x the hole, clipped, without duplicates', () => {
    assert.deepEqual(candidateLengths(14, 8, 4, 100), [14, 4, 8, 16]);
    assert.deepEqual(candidateLengths(14, 8, 1, 100), [14]);
    assert.deepEqual(candidateLengths(14, 8, 2, 100), [14, 8]);
    assert.deepEqual(candidateLengths(14, 8, 4, 10), [10, 4, 8]);
    assert.deepEqual(candidateLengths(33, 33, 4, 1000), [33, 17, 66]);
  });

  it('ranks by score, ties to the shorter; sampled copies of the best make up the rest', () => {
    const o = options({ candidates: 4, seed: 7 });
    assert.deepEqual(planContinuations([-0.5, -0.1, -0.1], [20, 12, 8], { ...o, candidates: 1 }), [
      { from: 2 },
    ]);
    assert.deepEqual(planContinuations([-0.5, -0.1, -0.2], [20, 12, 8], o), [
      { from: 1 },
      { from: 2 },
      { from: 0 },
      { from: 1, options: { temperature: o.candidateTemperature, seed: 8 } },
    ]);
  });

  it('empty is not a length: a canvas that would end at once never outranks one with content', () => {
    const o = options({ candidates: 2 });
    // Index 1 (a short canvas) is surest, but only of ending immediately.
    assert.deepEqual(planContinuations([-0.3, -0.01, -0.2], [20, 6, 40], o, [false, true, false]), [
      { from: 2 },
      { from: 0 },
    ]);
    // The sized canvas itself may still answer "empty".
    assert.deepEqual(planContinuations([-0.01, -0.4], [20, 40], options(), [true, false]), [{ from: 0 }]);
  });

  it('an unsure first pass keeps the sized length first (its preference is noise)', () => {
    const o = options({ candidates: 2 });
    assert.deepEqual(planContinuations([-3, -2, -2.5], [20, 12, 8], o), [{ from: 0 }, { from: 1 }]);
  });
});

describe('length search in the denoising loop', () => {
  // The true completion is 6 tokens. A canvas with room for it is sure of it and of the end after
  // it; a canvas with less room is unsure of everything.
  const roomy = (ids: readonly number[], i: number) =>
    room(ids) >= 6 ? (i < 6 ? prediction(20 + i, 0.95) : prediction(END, 0.99)) : prediction(20 + i, 0.4);

  it('picks the shortest canvas that holds the completion; one batched pass, then one row', async () => {
    const calls: number[] = [];
    const lengths = [12, 4, 8, 16];
    const out = await denoiseBatch({
      canvases: canvases(lengths, { strategy: 'guarded' }),
      predict: batched(roomy, calls),
      pieces,
      select: (scores) => planContinuations(scores, lengths, options()),
    });
    assert.equal(out.canvases.length, 1);
    const chosen = out.canvases[0].state;
    assert.equal(chosen.length, 8);
    assert.deepEqual(chosen.completionTokens(), [20, 21, 22, 23, 24, 25]);
    // Guarded at 0.95 (below the guard certainty): every other position, then the rest.
    assert.deepEqual(calls, [4, 1]);
    assert.equal(out.nfe, 2);
    assert.equal(out.nfeRows, 5);
    assert.ok(out.firstPassScores[1] < out.firstPassScores[2], `${out.firstPassScores}`);
  });

  it('picks the exact length when only that canvas makes the model sure', async () => {
    const exact = (ids: readonly number[], i: number) =>
      room(ids) === 6 ? prediction(20 + i, 0.99) : prediction(20 + i, 0.45);
    const calls: number[] = [];
    const lengths = [10, 4, 6, 8, 16];
    const out = await denoiseBatch({
      canvases: canvases(lengths, { strategy: 'threshold' }),
      predict: batched(exact, calls),
      pieces,
      select: (scores) => planContinuations(scores, lengths, options()),
    });
    assert.equal(out.canvases[0].state.length, 6);
    assert.deepEqual(out.canvases[0].state.completionTokens(), [20, 21, 22, 23, 24, 25]);
    assert.deepEqual(calls, [5]);
    assert.equal(out.nfeRows, 5);
  });

  it('a short canvas where the model is sure only of ending is not chosen', async () => {
    // Room < 6: the model surely ends at once (frequency collapse in a cramped canvas).
    const collapse = (ids: readonly number[], i: number) =>
      room(ids) >= 6 ? (i < 6 ? prediction(20 + i, 0.8) : prediction(END, 0.95)) : prediction(END, 0.99);
    const lengths = [10, 3];
    const out = await denoiseBatch({
      canvases: canvases(lengths, { strategy: 'sequential' }),
      predict: batched(collapse, []),
      pieces,
      select: (scores, wantsEmpty) => planContinuations(scores, lengths, options(), wantsEmpty),
    });
    assert.ok(out.firstPassScores[1] > out.firstPassScores[0], 'the empty canvas scores higher');
    assert.equal(out.canvases[0].state.length, 10);
    assert.deepEqual(out.canvases[0].state.completionTokens(), [20, 21, 22, 23, 24, 25]);
  });

  it('end-evidence rule: the canvas whose tail is surely end wins', async () => {
    const lengths = [6, 12];
    const calls: number[] = [];
    const out = await denoiseBatch({
      canvases: canvases(lengths, { strategy: 'threshold', lengthRule: 'end-evidence' }),
      predict: batched((ids, i) => (i < 6 ? prediction(20 + i, 0.99) : prediction(END, 0.97)), calls),
      pieces,
      select: (scores) => planContinuations(scores, lengths, options({ lengthRule: 'end-evidence' })),
    });
    assert.equal(out.canvases[0].state.length, 12);
    assert.deepEqual(out.canvases[0].state.completionTokens(), [20, 21, 22, 23, 24, 25]);
  });

  it('candidates: N canvases continue in one batch; a sampled copy reuses the first pass', async () => {
    const calls: number[] = [];
    const lengths = [12, 4, 8];
    const o = options({ strategy: 'threshold', candidates: 4 });
    const out = await denoiseBatch({
      canvases: canvases(lengths, o),
      predict: batched(roomy, calls),
      pieces,
      select: (scores) => planContinuations(scores, lengths, o),
    });
    assert.deepEqual(
      out.canvases.map((c) => c.state.length),
      [8, 12, 4, 8],
    );
    assert.equal(out.canvases[3].options.temperature, o.candidateTemperature);
    // Pass 1: 3 rows; the 4-token canvas is unsure and needs one forced commit per pass after that.
    assert.equal(calls[0], 3);
    assert.ok(calls.slice(1).every((n) => n >= 1 && n <= 4));
    assert.equal(
      out.nfeRows,
      calls.reduce((a, b) => a + b, 0),
    );
    assert.equal(out.nfe, calls.length);
    assert.ok(out.canvases[0].score > out.canvases[2].score);
  });
});

describe('length search in the engine (fixture model)', { skip: fixtureSkip() }, () => {
  let engine: InfillEngine;
  before(async () => {
    engine = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 });
  });
  after(async () => engine?.dispose());

  const request: InfillRequest = {
    id: 1,
    prefix: 'def add(a, b):\n',
    suffix: '\n\nprint(add(1, 2))\n',
    selectionText: 'return a + b',
  };

  it('chooses the selection length when the model signals it, and reports both NFE counts', async () => {
    const truth = engine.tokenizer.encode('return a + b');
    const special = engine.manifest.specialTokens;
    const window = engine.buildWindow(request);
    const original = engine.predict;
    try {
      // Sure of the selection's tokens exactly when the canvas has room for exactly them.
      engine.predict = async (ids, positions) => {
        const fill = ids.indexOf(special.end, window.canvasStart);
        const room = (fill < 0 ? Infinity : fill) - window.canvasStart;
        return positions.map((p) => {
          const i = p - window.canvasStart;
          return room === truth.length
            ? { ids: [truth[i]], probs: [0.99], entropy: 0.05 }
            : { ids: [truth[i % truth.length], special.end], probs: [0.3, 0.2], entropy: 3 };
        });
      };
      const result = await engine.infill({
        ...request,
        sampler: { strategy: 'guarded', lengthCandidates: 4 },
      });
      assert.equal(result.completion, 'return a + b');
      assert.equal(result.canvasLength, truth.length);
      assert.ok(
        result.lengths.some((l) => l.tokens === truth.length),
        JSON.stringify(result.lengths),
      );
      assert.ok(result.lengths.length >= 3, JSON.stringify(result.lengths));
      assert.equal(result.nfe, 1);
      assert.equal(result.nfeRows, result.lengths.length);
      assert.equal(result.unsure, false);
      assert.ok(result.confidence > 0.98);
    } finally {
      engine.predict = original;
    }
  });

  it('lengthCandidates 1: one canvas (the sized one), one row per pass', async () => {
    const result = await engine.infill({ ...request, sampler: { lengthCandidates: 1 } });
    assert.equal(result.lengths.length, 1);
    assert.equal(result.nfeRows, result.nfe);
    assert.equal(result.canvasLength, engine.buildWindow(request).canvasLength);
  });

  it('the real graph: a batched pass equals the passes one by one', async () => {
    const manifest = loadManifest(FIXTURE_DIR);
    for (const useFullLogitsGraph of [false, true]) {
      const session = await ModelSession.create(manifest, {
        executionProvider: 'cpu',
        threads: 1,
        useFullLogitsGraph,
      });
      try {
        const w = engine.buildWindow(request);
        const a = [...w.inputIds];
        const b = [...w.inputIds];
        b.fill(manifest.specialTokens.end, w.canvasStart + 3, w.canvasStart + w.canvasLength);
        const rowsA = [w.canvasStart, w.canvasStart + 1, w.canvasStart + 5];
        const rowsB = [w.canvasStart + 2];
        const together = await session.forwardBatch([a, b], [rowsA, rowsB]);
        const alone = [await session.forward(a, rowsA), await session.forward(b, rowsB)];
        assert.equal(together[0].length, 3);
        assert.equal(together[1].length, 1);
        together.forEach((rows, i) =>
          rows.forEach((r, j) => {
            assert.deepEqual(r.ids, alone[i][j].ids);
            r.probs.forEach((p, k) => assert.ok(Math.abs(p - alone[i][j].probs[k]) < 1e-4));
          }),
        );
      } finally {
        await session.release();
      }
    }
  });
});
