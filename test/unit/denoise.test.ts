// The denoising loop on a synthetic model: termination for every strategy, at least one commit per
// step, NFE counting, seeded determinism, bounded remasking, cancellation, end-token trimming, blocks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAbortError } from '../../src/engine/errors';
import type { PositionPredictor } from '../../src/engine/predictor';
import type { SamplerOptions, StrategyName } from '../../src/engine/protocol';
import { CanvasState } from '../../src/engine/sampler/canvas';
import { denoise, maxSteps, type DenoiseSetup } from '../../src/engine/sampler/denoise';
import { DEFAULT_SAMPLER_OPTIONS, STRATEGIES } from '../../src/engine/sampler/options';
import { seededRandom } from '../../src/engine/sampler/prng';
import { MAX_REMASKS_PER_POSITION, REVIEW_ROUNDS } from '../../src/engine/sampler/remask';
import { prediction } from './helpers';

const MASK = 0;
const END = 1;
const PAD = 2;
const pieces = { piece: (t: number) => (t === END ? '<end>' : t % 7 === 0 ? '(' : `w${t}`) };

function canvas(length: number, prefix = [50, 51], suffix = [60]): CanvasState {
  const ids = [...prefix, ...new Array<number>(length).fill(MASK), ...suffix];
  return new CanvasState(ids, prefix.length, length, { mask: MASK, ends: new Set([END, PAD]) });
}

/** A deterministic noisy model: confidence depends on position and how much context is filled in. */
function noisyModel(seed: number): PositionPredictor {
  return async (inputIds, positions) => {
    const filled = inputIds.filter((t) => t !== MASK).length;
    return positions.map((p) => {
      const r = seededRandom(seed * 1000 + p * 31 + filled)();
      return prediction(10 + ((p * 7 + filled) % 40), 0.2 + 0.79 * r, undefined, [3, 4, 5, 6, 7, 8, 9]);
    });
  };
}

function setup(
  state: CanvasState,
  options: Partial<SamplerOptions>,
  predict: PositionPredictor,
): DenoiseSetup {
  return {
    state,
    hasLeftContext: true,
    hasRightContext: true,
    predict,
    options: { ...DEFAULT_SAMPLER_OPTIONS, ...options },
    pieces,
  };
}

describe('denoising loop', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: terminates with every position committed and one forward pass per step`, async () => {
      const state = canvas(40);
      const perStep: number[] = [];
      let before = state.masksLeft;
      const s = setup(state, { strategy, steps: 10 }, noisyModel(1));
      s.onStep = (p) => {
        perStep.push(before - p.masksLeft);
        before = p.masksLeft;
      };
      const out = await denoise(s);
      assert.equal(state.masksLeft, 0);
      assert.equal(out.nfe, out.steps);
      if (strategy !== 'guarded') {
        // Without remasking every step commits at least one position.
        assert.ok(
          perStep.every((n) => n >= 1),
          `${perStep}`,
        );
        assert.ok(out.steps <= 40);
      }
      if (strategy === 'sequential') {
        assert.equal(out.steps, 40);
      }
      if (strategy === 'confidence') {
        assert.ok(out.steps <= 10 + 1, `schedule of 10 steps took ${out.steps}`);
      }
    });
  }

  it('threshold commits many positions per step when the model is sure', async () => {
    const sure: PositionPredictor = async (_ids, positions) =>
      positions.map((p) => prediction(10 + (p % 5), 0.99));
    const out = await denoise(setup(canvas(32), { strategy: 'threshold', blockSize: 0 }, sure));
    assert.equal(out.nfe, 1);
  });

  it('is deterministic for a seed at temperature > 0, and the seed matters', async () => {
    const run = async (seed: number) => {
      const state = canvas(24);
      await denoise(
        setup(state, { strategy: 'threshold', temperature: 1, seed, blockSize: 0 }, noisyModel(7)),
      );
      return state.inputIds.join(',');
    };
    assert.equal(await run(3), await run(3));
    const outputs = new Set<string>();
    for (const seed of [3, 4, 5, 6]) {
      outputs.add(await run(seed));
    }
    assert.ok(outputs.size > 1, 'different seeds sample differently');
  });

  it('remasking is bounded: an always-unsure model still terminates', async () => {
    const unsure: PositionPredictor = async (_ids, positions) =>
      positions.map((p) => prediction(10 + (p % 9), 0.05, 4, [3, 4, 5]));
    const state = canvas(20);
    const out = await denoise(setup(state, { strategy: 'guarded' }, unsure));
    assert.equal(state.masksLeft, 0);
    assert.ok(out.remaskedLowConfidence > 0, 'low-confidence tokens were re-masked');
    for (let i = 0; i < 20; i++) {
      assert.ok(state.remaskCount(i) <= MAX_REMASKS_PER_POSITION);
    }
    assert.ok(
      out.steps <= maxSteps({ ...DEFAULT_SAMPLER_OPTIONS, strategy: 'guarded' }, 20),
      `${out.steps} steps`,
    );
  });

  it('no remasking when switched off', async () => {
    const unsure: PositionPredictor = async (_ids, positions) =>
      positions.map((p) => prediction(10 + (p % 9), 0.05));
    const out = await denoise(setup(canvas(10), { strategy: 'guarded', remaskLowConfidence: false }, unsure));
    assert.equal(out.remaskedLowConfidence, 0);
  });

  it('parse-error remasking re-predicts the reported tokens, bounded', async () => {
    const state = canvas(8);
    let calls = 0;
    const s = setup(state, { strategy: 'guarded', remaskLowConfidence: false }, async (_i, positions) =>
      positions.map((p) => prediction(10 + p, 0.99)),
    );
    s.parseErrors = () => {
      calls++;
      return [2, 3];
    };
    const out = await denoise(s);
    assert.equal(out.remaskedParseErrors, 2, 'each position re-masked once only');
    assert.ok(calls >= 1 && calls <= REVIEW_ROUNDS);
    assert.equal(state.masksLeft, 0);
  });

  it('stops with an AbortError when cancelled between steps', async () => {
    const state = canvas(30);
    const s = setup(state, { strategy: 'sequential' }, noisyModel(2));
    let steps = 0;
    s.onStep = () => steps++;
    s.isCancelled = () => steps >= 3;
    await assert.rejects(denoise(s), (err: unknown) => isAbortError(err));
    assert.equal(steps, 3);
    assert.ok(state.masksLeft > 0);
  });

  it('fills everything after a committed end token and trims the completion there', async () => {
    // Position 3 is surely the end; the rest are content.
    const model: PositionPredictor = async (_ids, positions) =>
      positions.map((p) => (p === 2 + 3 ? prediction(END, 0.999) : prediction(20 + p, 0.5)));
    const state = canvas(12);
    const out = await denoise(
      setup(state, { strategy: 'sequential', blockSize: 0, endRule: 'anywhere' }, model),
    );
    assert.equal(state.firstEnd(), 3);
    assert.equal(state.completionTokens().length, 3);
    assert.ok(out.nfe <= 4, `positions after the end cost no passes (nfe ${out.nfe})`);
  });

  for (const endRule of ['evidence', 'rightmost'] as const) {
    it(`${endRule}: an end token in the middle of the canvas is replaced by the best other proposal`, async () => {
      const model: PositionPredictor = async (_ids, positions) =>
        positions.map((p) => (p === 2 + 3 ? prediction(END, 0.999) : prediction(20 + p, 0.5)));
      const state = canvas(12);
      await denoise(setup(state, { strategy: 'sequential', blockSize: 0, endRule }, model));
      assert.equal(state.firstEnd(), 12, 'no end token was committed');
      assert.equal(state.completionTokens().length, 12);
    });

    it(`${endRule}: the completion ends where the model's sure tail starts`, async () => {
      // Positions 8.. are surely the end; content before them.
      const model: PositionPredictor = async (_ids, positions) =>
        positions.map((p) => (p >= 2 + 8 ? prediction(END, 0.99) : prediction(20 + p, 0.5)));
      const state = canvas(12);
      const out = await denoise(setup(state, { strategy: 'threshold', blockSize: 0, endRule }, model));
      assert.equal(state.firstEnd(), 8);
      assert.deepEqual(
        state.completionTokens(),
        Array.from({ length: 8 }, (_, i) => 20 + 2 + i),
      );
      // evidence: the sure tail is one decision in the first pass; rightmost: one pass per tail position.
      assert.equal(out.nfe, endRule === 'evidence' ? 8 : 8 + 4);
    });
  }

  it('blocks are a priority: unsure commits stay in the first block, sure ones commit anywhere', async () => {
    // Position 15 (second block) is sure; everything else unsure.
    const model: PositionPredictor = async (_ids, positions) =>
      positions.map((p) => prediction(20 + p, p === 2 + 15 ? 0.99 : 0.4 + 0.01 * (p % 5)));
    const state = canvas(20);
    const s = setup(state, { strategy: 'threshold', blockSize: 8 }, model);
    const committed: number[][] = [];
    let before = Array.from({ length: 20 }, (_, i) => state.isMasked(i));
    s.onStep = () => {
      committed.push(before.flatMap((m, i) => (m && !state.isMasked(i) ? [i] : [])));
      before = Array.from({ length: 20 }, (_, i) => state.isMasked(i));
    };
    await denoise(s);
    assert.deepEqual(committed[0], [15], 'the sure position in block 1 commits at once');
    // Then one unsure commit per pass, all in block 0 until it is full: 8 passes.
    assert.ok(
      committed.slice(1, 9).every((c) => c.length === 1 && c[0] < 8),
      JSON.stringify(committed),
    );
    assert.equal(state.completionTokens().length, 20);
  });

  it('top-k strategies honour the step budget', async () => {
    for (const strategy of ['confidence', 'margin', 'entropy'] as StrategyName[]) {
      const out = await denoise(setup(canvas(64), { strategy, steps: 8, blockSize: 0 }, noisyModel(5)));
      assert.equal(out.steps, 8, strategy);
    }
  });
});
