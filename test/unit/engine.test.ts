// The engine end to end on the real fixture model (in-process): completions, snapshots, NFE, every
// strategy terminating, determinism, trimming at the end token, cancellation, the shift convention.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InfillEngine } from '../../src/engine/engine';
import { EngineError, isAbortError } from '../../src/engine/errors';
import type { InfillRequest, Snapshot } from '../../src/engine/protocol';
import { CanvasState } from '../../src/engine/sampler/canvas';
import { STRATEGIES } from '../../src/engine/sampler/options';
import { copyFixture, FIXTURE_DIR, fixtureSkip } from './helpers';

const PREFIX = 'def add(a, b):\n    """Return the sum of a and b."""\n';
const SUFFIX = '\n\n\ndef mul(a, b):\n    return a * b\n';
const request = (extra: Partial<InfillRequest> = {}): InfillRequest => ({
  id: 1,
  prefix: PREFIX,
  suffix: SUFFIX,
  selectionText: '    return a + b',
  languageId: 'python',
  ...extra,
});

describe('infill engine (fixture)', { skip: fixtureSkip() }, () => {
  let engine: InfillEngine;

  before(async () => {
    engine = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 2 });
  });
  after(async () => engine?.dispose());

  it('fills a hole: result, snapshots, NFE, timings', async () => {
    const snapshots: Snapshot[] = [];
    const result = await engine.infill(request(), { onSnapshot: (s) => snapshots.push(s) });
    assert.equal(typeof result.completion, 'string');
    assert.ok(result.nfe >= 1 && result.nfe === result.steps, `nfe ${result.nfe} steps ${result.steps}`);
    assert.ok(result.tokens <= result.canvasLength);
    assert.ok(result.ms >= result.firstFrameMs && result.firstFrameMs >= 0);
    assert.ok(snapshots.length >= 1);
    const last = snapshots[snapshots.length - 1];
    assert.equal(last.masksLeft, 0);
    assert.equal(last.text, result.completion);
    assert.equal(last.nfe, result.nfe);
    assert.ok(snapshots.every((s, i) => i === 0 || s.step > snapshots[i - 1].step));
  });

  for (const strategy of STRATEGIES) {
    it(`${strategy}: terminates, commits something per pass`, async () => {
      const result = await engine.infill(request({ canvasTokens: 24, sampler: { strategy, steps: 8 } }));
      assert.ok(result.nfe >= 1);
      assert.ok(result.nfe <= 24 * 3, `nfe ${result.nfe}`);
      if (strategy === 'confidence' || strategy === 'margin' || strategy === 'entropy') {
        assert.ok(result.nfe <= 8, `step budget 8, took ${result.nfe}`);
      }
    });
  }

  it('parallel strategies use fewer forward passes than sequential on the same hole', async () => {
    const seq = await engine.infill(request({ canvasTokens: 32, sampler: { strategy: 'sequential' } }));
    const conf = await engine.infill(
      request({ canvasTokens: 32, sampler: { strategy: 'confidence', steps: 8 } }),
    );
    // Sequential commits one position per pass: one pass per canvas position. Confidence with an
    // 8-step budget finishes in at most 8, so it is strictly cheaper on a 32-token hole.
    assert.equal(seq.nfe, 32, `sequential took ${seq.nfe} passes for 32 positions`);
    assert.ok(conf.nfe <= 8 && conf.nfe < seq.nfe, `confidence ${conf.nfe} vs sequential ${seq.nfe}`);
  });

  it('is deterministic: greedy twice, and seeded sampling twice', async () => {
    const a = await engine.infill(request());
    const b = await engine.infill(request());
    assert.equal(a.completion, b.completion);
    assert.equal(a.nfe, b.nfe);
    const s1 = await engine.infill(request({ sampler: { temperature: 1.5, seed: 42 } }));
    const s2 = await engine.infill(request({ sampler: { temperature: 1.5, seed: 42 } }));
    assert.equal(s1.completion, s2.completion);
  });

  it('trims the completion at the first end token (snapshots too)', async () => {
    const original = engine.predict;
    const endId = engine.manifest.specialTokens.end;
    let canvasStart = -1;
    try {
      // The model's own predictions, except that the 4th canvas position is surely the end token and
      // the three before it are not (the fixture likes to end early).
      const special = engine.manifest.specialTokens;
      const ends = new Set([special.end, special.pad, special.eos]);
      const content = engine.tokenizer.encode('x')[0];
      engine.predict = async (ids, positions) => {
        const out = await original(ids, positions);
        return out.map((p, i) => {
          const canvasIndex = positions[i] - canvasStart;
          if (canvasIndex === 3) {
            return { ids: [endId], probs: [0.9999], entropy: 0 };
          }
          return canvasIndex < 3 && ends.has(p.ids[0]) ? { ids: [content], probs: [0.5], entropy: 1 } : p;
        });
      };
      canvasStart = engine.buildWindow(request({ canvasTokens: 16 })).canvasStart;
      const snapshots: Snapshot[] = [];
      const result = await engine.infill(request({ canvasTokens: 16, sampler: { strategy: 'sequential' } }), {
        onSnapshot: (s) => snapshots.push(s),
      });
      assert.equal(result.tokens, 3);
      assert.ok(!result.completion.includes(engine.tokenizer.piece(endId)));
      assert.ok(result.nfe <= 4, `positions after the end cost nothing (nfe ${result.nfe})`);
      assert.ok(
        snapshots.every((s) => !s.text.includes('<')),
        'no end token text in snapshots',
      );
    } finally {
      engine.predict = original;
    }
  });

  it('snapshotIntervalMs throttles snapshots but the final state is always sent; steps stay within maxSteps', async () => {
    const all: Snapshot[] = [];
    const result = await engine.infill(request({ canvasTokens: 24, sampler: { strategy: 'sequential' } }), {
      onSnapshot: (s) => all.push(s),
    });
    assert.ok(all.length > 1);
    assert.ok(all.every((s) => s.step <= s.maxSteps));
    const throttled: Snapshot[] = [];
    await engine.infill(
      request({ canvasTokens: 24, snapshotIntervalMs: 1e9, sampler: { strategy: 'sequential' } }),
      {
        onSnapshot: (s) => throttled.push(s),
      },
    );
    // The first step is always due (nothing sent yet); after that only the final state.
    assert.ok(throttled.length <= 2, `${throttled.length} snapshots`);
    assert.equal(throttled[throttled.length - 1].masksLeft, 0);
    assert.equal(throttled[throttled.length - 1].step, result.steps);
  });

  it('guarded re-masks canvas tokens that break the parse (tree-sitter, python)', async () => {
    const original = engine.predict;
    const close = engine.tokenizer.encode(')')[0];
    try {
      // A model that insists on ")))" in the canvas: unbalanced, so a parse error around the canvas.
      const canvasStart = engine.buildWindow({
        prefix: 'x = 1\n',
        suffix: '\ny = 2\n',
        canvasTokens: 3,
      }).canvasStart;
      engine.predict = async (ids, positions) =>
        positions.map((p) =>
          p >= canvasStart && p < canvasStart + 3
            ? { ids: [close], probs: [0.99], entropy: 0.05 }
            : { ids: [close], probs: [1], entropy: 0 },
        );
      const result = await engine.infill({
        id: 9,
        prefix: 'x = 1\n',
        suffix: '\ny = 2\n',
        canvasTokens: 3,
        languageId: 'python',
        sampler: { strategy: 'guarded' },
      });
      assert.equal(result.completion, ')))');
      assert.ok(
        result.notes.some((n) => /re-masked 0 low-confidence and [1-9]\d* parse-error tokens/.test(n)),
        result.notes.join('; '),
      );
      const off = await engine.infill({
        id: 10,
        prefix: 'x = 1\n',
        suffix: '\ny = 2\n',
        canvasTokens: 3,
        languageId: 'python',
        sampler: { strategy: 'guarded', remaskParseErrors: false },
      });
      assert.ok(!off.notes.some((n) => n.includes('parse-error')), off.notes.join('; '));
    } finally {
      engine.predict = original;
    }
  });

  it('renders masks as the placeholder glyph', () => {
    const m = engine.manifest.specialTokens;
    const ids = engine.tokenizer.encode('x = 1');
    const state = new CanvasState([...ids, m.mask, ...ids], 0, ids.length + 1 + ids.length, {
      mask: m.mask,
      ends: new Set([m.end]),
    });
    assert.equal(engine.renderCanvas(state, '░'), 'x = 1░x = 1');
  });

  it('is cancellable between steps', async () => {
    let steps = 0;
    await assert.rejects(
      engine.infill(request({ canvasTokens: 32, sampler: { strategy: 'sequential' } }), {
        onSnapshot: () => steps++,
        isCancelled: () => steps >= 2,
      }),
      (err: unknown) => isAbortError(err),
    );
    assert.equal(steps, 2);
  });

  it('clips a canvas that cannot fit max_length and says so', async () => {
    const max = engine.manifest.maxLength;
    const result = await engine.infill(
      request({ canvasTokens: max + 10, sampler: { strategy: 'threshold', threshold: 0 } }),
    );
    assert.ok(result.canvasLength < max);
    assert.ok(
      result.notes.some((n) => n.includes('canvas clipped')),
      result.notes.join('; '),
    );
  });

  it('rejects bad sampler options as bad-request', async () => {
    await assert.rejects(
      engine.infill(request({ sampler: { strategy: 'nope' as never } })),
      (err: unknown) => err instanceof EngineError && err.code === 'bad-request',
    );
  });

  it('shift convention: a shifted manifest reads row i-1 (full-logits graph)', async (t) => {
    if (!engine.manifest.fullLogitsPath) {
      return t.skip('fixture has no onnx_full_logits');
    }
    const asFullLogits = (shift: string) =>
      copyFixture((m) => {
        m.onnx = m.onnx_full_logits;
        m.output_kind = 'full_logits';
        m.logit_shift = shift;
      });
    const plain = await InfillEngine.load({
      modelDir: asFullLogits('none'),
      executionProvider: 'cpu',
      threads: 1,
    });
    const shifted = await InfillEngine.load({
      modelDir: asFullLogits('shifted'),
      executionProvider: 'cpu',
      threads: 1,
    });
    try {
      const w = plain.buildWindow(request({ canvasTokens: 4 }));
      const positions = [w.canvasStart, w.canvasStart + 1, w.canvasStart + 2];
      const fromShifted = await shifted.predict(w.inputIds, positions);
      const fromPlain = await plain.predict(
        w.inputIds,
        positions.map((p) => p - 1),
      );
      const samePlace = await plain.predict(w.inputIds, positions);
      assert.deepEqual(fromShifted, fromPlain, 'shifted position i = unshifted row i - 1');
      assert.notDeepEqual(fromShifted, samePlace);
    } finally {
      await plain.dispose();
      await shifted.dispose();
    }
  });
});
