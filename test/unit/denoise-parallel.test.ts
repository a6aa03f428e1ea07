// Passes follow the content (issue 12): synthetic predictors pin the forward passes and the output of
// every strategy. Confident: a 5-token completion in a 40-token canvas; confused: nothing is sure;
// two mutually dependent positions; a predictor that wants end tokens early; frequency collapse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PositionPredictor } from '../../src/engine/predictor';
import type { SamplerOptions, StrategyName } from '../../src/engine/protocol';
import { CanvasState } from '../../src/engine/sampler/canvas';
import { denoise, type DenoiseSetup } from '../../src/engine/sampler/denoise';
import { DEFAULT_SAMPLER_OPTIONS, STRATEGIES } from '../../src/engine/sampler/options';
import { prediction } from './helpers';

const MASK = 0;
const END = 1;
const PREFIX = [50, 51];
const START = PREFIX.length;
const WORDS: Record<number, string> = { 30: 'foo', 31: 'Baz', 32: 'bar', 33: 'Qux' };
const pieces = { piece: (t: number) => (t === END ? '<end>' : (WORDS[t] ?? ` w${t}`)) };

function canvas(length: number): CanvasState {
  const ids = [...PREFIX, ...new Array<number>(length).fill(MASK), 60];
  return new CanvasState(ids, START, length, { mask: MASK, ends: new Set([END]) });
}

function run(
  state: CanvasState,
  options: Partial<SamplerOptions>,
  predict: PositionPredictor,
): Promise<Awaited<ReturnType<typeof denoise>>> {
  const setup: DenoiseSetup = {
    state,
    hasLeftContext: true,
    hasRightContext: true,
    predict,
    options: { ...DEFAULT_SAMPLER_OPTIONS, ...options },
    pieces,
  };
  return denoise(setup);
}

/** Content tokens 20 + i at canvas positions i < length, end tokens after, all with probability p. */
function knowsLength(length: number, p: number): PositionPredictor {
  return async (_ids, positions) =>
    positions.map((pos) => (pos - START < length ? prediction(20 + pos - START, p) : prediction(END, p)));
}

const PARALLEL: StrategyName[] = [
  'threshold',
  'entropy-bounded',
  'guarded',
  'confidence',
  'margin',
  'entropy',
];

describe('a confident predictor: 5 tokens in a 40-token canvas', () => {
  const expected = [20, 21, 22, 23, 24];
  for (const strategy of STRATEGIES) {
    // The whole tail is one sure decision riding along with the first pick: sequential takes one
    // pass per content token (5), the rest 1.
    const nfe = strategy === 'sequential' ? 5 : 1;
    it(`${strategy}: ${nfe} pass(es), exactly the 5 tokens`, async () => {
      const state = canvas(40);
      const out = await run(state, { strategy }, knowsLength(5, 0.99));
      assert.deepEqual(state.completionTokens(), expected);
      assert.equal(out.nfe, nfe);
      assert.ok(Math.exp(out.score) > 0.98, `score ${out.score}`);
    });
  }

  for (const blockSize of [0, 4, 8, 32]) {
    it(`block size ${blockSize} never lengthens the completion nor adds passes (guarded)`, async () => {
      const state = canvas(40);
      const out = await run(state, { strategy: 'guarded', blockSize }, knowsLength(5, 0.99));
      assert.deepEqual(state.completionTokens(), expected);
      assert.equal(out.nfe, 1);
    });
  }

  it('the same completion in a 160-token canvas, still one pass (threshold) ', async () => {
    const state = canvas(160);
    const out = await run(state, { strategy: 'threshold' }, knowsLength(5, 0.99));
    assert.deepEqual(state.completionTokens(), expected);
    assert.equal(out.nfe, 1);
  });

  it('the previous rule (rightmost) paid one pass per tail position', async () => {
    const state = canvas(40);
    const out = await run(state, { strategy: 'threshold', endRule: 'rightmost' }, knowsLength(5, 0.99));
    assert.deepEqual(state.completionTokens(), expected);
    assert.equal(out.nfe, 35);
  });

  it('sure but below the guard certainty (0.95): the guard costs one extra pass, no more', async () => {
    // entropy-bounded keeps its own bound: each row's entropy is 0.253 nats, so gamma 0.5 admits two
    // content positions per pass (0.506 - 0.253 > 0.5 for a third): 3 passes for 5 tokens.
    const passes = { guarded: 2, 'entropy-bounded': 3 } as Partial<Record<StrategyName, number>>;
    for (const strategy of PARALLEL) {
      const state = canvas(40);
      const out = await run(state, { strategy }, knowsLength(5, 0.95));
      assert.deepEqual(state.completionTokens(), expected, strategy);
      assert.equal(out.nfe, passes[strategy] ?? 1, strategy);
    }
  });
});

describe('a confused predictor: nothing reaches the threshold', () => {
  // Content 20 + i at 0.3 everywhere (7 other ids at 0.1), ends never proposed.
  const confused: PositionPredictor = async (_ids, positions) =>
    positions.map((pos) => prediction(20 + pos - START, 0.3, undefined, [3, 4, 5, 6, 7, 8, 9]));
  const passes: Record<StrategyName, number> = {
    // one forced commit per pass
    threshold: 12,
    sequential: 12,
    'entropy-bounded': 12,
    guarded: 12,
    // the schedule: ceil(masks left / steps left) with steps = 4
    confidence: 4,
    margin: 4,
    entropy: 4,
  };
  for (const strategy of STRATEGIES) {
    it(`${strategy}: fills the canvas in ${passes[strategy]} passes, scored unsure`, async () => {
      const state = canvas(12);
      const out = await run(state, { strategy, steps: 4 }, confused);
      assert.deepEqual(
        state.completionTokens(),
        Array.from({ length: 12 }, (_, i) => 20 + i),
      );
      assert.equal(out.nfe, passes[strategy]);
      assert.ok(Math.abs(Math.exp(out.score) - 0.3) < 1e-9, `geometric mean ${Math.exp(out.score)}`);
    });
  }
});

describe('two mutually dependent positions', () => {
  // Two modes, "fooBaz" and "barQux". With both masked the marginals mix them (foo 0.93 at 0, Qux
  // 0.92 at 1); once position 0 is visible, position 1 follows it with near-certainty.
  const bimodal: PositionPredictor = async (ids, positions) =>
    positions.map((pos) => {
      const i = pos - START;
      if (i === 0) {
        return prediction(30, 0.93);
      }
      if (i === 1) {
        const first = ids[START];
        return first === MASK ? prediction(33, 0.92) : prediction(first === 30 ? 31 : 33, 0.99);
      }
      return prediction(END, 0.99);
    });

  it('threshold commits the product of marginals in one pass: the mixed "fooQux"', async () => {
    const state = canvas(8);
    const out = await run(state, { strategy: 'threshold' }, bimodal);
    assert.deepEqual(state.completionTokens(), [30, 33]);
    assert.equal(out.nfe, 1);
  });

  it('guarded defers one of them: "fooBaz" in two passes', async () => {
    const state = canvas(8);
    const out = await run(state, { strategy: 'guarded' }, bimodal);
    assert.deepEqual(state.completionTokens(), [30, 31]);
    assert.equal(out.nfe, 2);
  });

  it('guard off: guarded mixes them too', async () => {
    const state = canvas(8);
    await run(state, { strategy: 'guarded', dependencyGuard: false }, bimodal);
    assert.deepEqual(state.completionTokens(), [30, 33]);
  });

  it('a run of confident identifier pieces is not serialised by the guard', async () => {
    // Six glued pieces at 0.95 (below the guard certainty): pass 1 every other one, pass 2 the rest.
    const glued: PositionPredictor = async (_ids, positions) =>
      positions.map((pos) => (pos - START < 6 ? prediction(100 + pos, 0.95) : prediction(END, 0.99)));
    const wordPieces = { piece: (t: number) => (t === END ? '<end>' : `p${t}`) };
    const state = canvas(24);
    const out = await denoise({
      state,
      hasLeftContext: true,
      hasRightContext: true,
      predict: glued,
      options: { ...DEFAULT_SAMPLER_OPTIONS, strategy: 'guarded' },
      pieces: wordPieces,
    });
    assert.equal(state.completionTokens().length, 6);
    assert.equal(out.nfe, 2);
  });
});

describe('a predictor that wants end tokens early', () => {
  // A sure end at position 2, but the model also wants content at 3 and 4 (and the end from 5 on).
  const early: PositionPredictor = async (_ids, positions) =>
    positions.map((pos) => {
      const i = pos - START;
      if (i === 2) {
        return { ids: [END, 22], probs: [0.95, 0.04], entropy: 0.2 };
      }
      return i < 5 ? prediction(20 + i, 0.99) : prediction(END, 0.99);
    });

  for (const strategy of PARALLEL) {
    it(`${strategy}: the early end is refused (content follows it): 5 tokens, position 2 its best content`, async () => {
      const state = canvas(20);
      const out = await run(state, { strategy }, early);
      assert.deepEqual(state.completionTokens(), [20, 21, 22, 23, 24]);
      // Position 2's content proposal (0.04) is below τ: threshold and the top-k schedules commit it
      // by force in pass 2; entropy-bounded admits it in pass 1 (low entropy); guarded re-masks the
      // unsure token once after the canvas is full and predicts it again (pass 3).
      const passes = { 'entropy-bounded': 1, guarded: 3 } as Partial<Record<StrategyName, number>>;
      assert.equal(out.nfe, passes[strategy] ?? 2);
    });
  }

  it("'anywhere' (no end rule) lets it cut the completion to 2 tokens", async () => {
    const state = canvas(20);
    await run(state, { strategy: 'threshold', endRule: 'anywhere' }, early);
    assert.deepEqual(state.completionTokens(), [20, 21]);
  });

  it('a sure empty completion (end everywhere) is allowed and costs one pass', async () => {
    const allEnd: PositionPredictor = async (_ids, positions) => positions.map(() => prediction(END, 0.99));
    for (const strategy of PARALLEL) {
      const state = canvas(20);
      const out = await run(state, { strategy }, allEnd);
      assert.deepEqual(state.completionTokens(), [], strategy);
      assert.equal(out.nfe, 1, strategy);
    }
  });

  it('frequency collapse (end at 0.6 everywhere, below τ): no early cut; the tail grows from the right', async () => {
    const collapse: PositionPredictor = async (_ids, positions) =>
      positions.map((pos) => ({ ids: [END, 20 + pos - START], probs: [0.6, 0.3], entropy: 1 }));
    const state = canvas(6);
    const out = await run(state, { strategy: 'threshold' }, collapse);
    // Each pass, the rightmost mask is the only place an end below τ may go, and it beats every
    // content proposal (0.6 > 0.3): six passes, empty, at confidence 0.6.
    assert.deepEqual(state.completionTokens(), []);
    assert.equal(out.nfe, 6);
    assert.ok(Math.abs(Math.exp(out.score) - 0.6) < 1e-9);
  });
});
