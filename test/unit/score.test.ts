// Pseudo-likelihood scoring and Refine Selection on the real fixture model (in-process and through the
// child process): G passes with interleaved groups, offsets that map back to the text, exact vs bound
// probabilities, refine re-masking exactly the tokens below the threshold, nothing changed when
// nothing is doubtful, function scope by syntax and by indentation, and the visualiser's trace.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/engine/client';
import { InfillEngine } from '../../src/engine/engine';
import type { PositionPredictor } from '../../src/engine/predictor';
import type { RefineRequest, ScoreRequest, Snapshot } from '../../src/engine/protocol';
import { identifierExpansion, parseErrorLines, refineRegion, scoreRegion } from '../../src/engine/score';
import { enclosingFunction, indentationBlock } from '../../src/engine/scope';
import { copyFixture, ENGINE_ENTRY, FIXTURE_DIR, fixtureSkip } from './helpers';

const PREFIX = 'def is_prime(n):\n';
const BODY =
  '    if n < 2:\n        return False\n    for i in range(2, n):\n        if n % i == 0:\n            return False\n    return True\n';
const SUFFIX = '\n\nprint(is_prime(7))\n';
const REQUEST: ScoreRequest = { id: 1, prefix: PREFIX, text: BODY, suffix: SUFFIX, languageId: 'python' };

describe('pseudo-likelihood scoring (fixture)', { skip: fixtureSkip() }, () => {
  let engine: InfillEngine;
  let original: PositionPredictor;
  let calls: { ids: number[]; positions: number[] }[] = [];

  before(async () => {
    engine = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 });
    original = engine.predict;
    engine.predict = (ids, positions) => {
      calls.push({ ids: [...ids], positions: [...positions] });
      return original(ids, positions);
    };
  });
  after(async () => engine?.dispose());

  it('costs G forward passes; each masks one interleaved group and predicts exactly it', async () => {
    calls = [];
    const result = await scoreRegion(engine, { ...REQUEST, groups: 3 });
    assert.equal(result.passes, 3);
    assert.equal(result.groups, 3);
    assert.equal(calls.length, 3);
    const mask = engine.manifest.specialTokens.mask;
    const predicted = calls.flatMap((c) => c.positions).sort((a, b) => a - b);
    assert.equal(predicted.length, result.tokens.length, 'every region token predicted once');
    assert.equal(new Set(predicted).size, predicted.length);
    const first = predicted[0];
    calls.forEach((c, g) => {
      assert.deepEqual(
        c.positions,
        predicted.filter((p) => (p - first) % 3 === g),
        `group ${g} is every third position`,
      );
      const masked = c.ids.map((id, i) => (id === mask ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(masked, c.positions, 'exactly the predicted positions are masked');
    });
  });

  it('token offsets map back to the region text; exact probabilities are top-k entries, others bounds', async () => {
    const result = await scoreRegion(engine, REQUEST);
    assert.equal(result.regionText, BODY);
    assert.equal(result.regionStart, PREFIX.length);
    assert.equal(result.regionEnd, PREFIX.length + BODY.length);
    assert.equal(result.tokens.map((t) => BODY.slice(t.start, t.end)).join(''), BODY);
    for (const t of result.tokens) {
      assert.equal(BODY.slice(t.start, t.end), t.text);
      assert.ok(t.prob >= 0 && t.prob <= 1);
      assert.equal(t.alternatives.length, engine.manifest.topK);
      if (t.exact) {
        assert.equal(t.alternatives[t.rank].text, t.text);
        assert.equal(t.alternatives[t.rank].prob, t.prob);
      } else {
        assert.equal(t.rank, -1);
        assert.ok(t.prob <= t.alternatives.at(-1)!.prob + 1e-9, 'bound below the k-th probability');
      }
    }
  });

  it('groups are clamped to the token count; G=1 masks the whole region in one pass', async () => {
    calls = [];
    const one = await scoreRegion(engine, { ...REQUEST, text: '    return True\n', groups: 1 });
    assert.equal(one.passes, 1);
    calls = [];
    const many = await scoreRegion(engine, { ...REQUEST, text: '    return True\n', groups: 99 });
    assert.equal(many.passes, many.tokens.length);
    assert.equal(calls.length, many.tokens.length);
    await assert.rejects(scoreRegion(engine, { ...REQUEST, groups: 0 }), /groups must be a positive integer/);
    await assert.rejects(scoreRegion(engine, { ...REQUEST, text: '' }), /region is empty/);
  });

  it('trailing indentation of the prefix is scored with the region but not reported', async () => {
    const result = await scoreRegion(engine, {
      ...REQUEST,
      prefix: PREFIX + '    ',
      text: 'return True\n',
    });
    assert.equal(result.tokens.map((t) => 'return True\n'.slice(t.start, t.end)).join(''), 'return True\n');
    assert.ok(result.tokens.every((t) => t.end > 0));
  });

  it('enclosingFunction scores the function around the cursor (python syntax)', async () => {
    const doc = `import os\n\n\n${PREFIX}${BODY}${SUFFIX}`;
    const cursor = doc.indexOf('range');
    const result = await scoreRegion(engine, {
      id: 2,
      prefix: doc.slice(0, cursor),
      text: '',
      suffix: doc.slice(cursor),
      languageId: 'python',
      enclosingFunction: true,
    });
    assert.equal(result.regionText, (PREFIX + BODY).trimEnd());
    assert.equal(doc.slice(result.regionStart, result.regionEnd), result.regionText);
    assert.match(result.notes.join(';'), /python syntax/);
  });

  it('refine with threshold 0: nothing is doubtful, the text comes back unchanged after G passes', async () => {
    calls = [];
    const result = await refineRegion(engine, { ...REQUEST, threshold: 0 });
    assert.equal(result.changed, false);
    assert.equal(result.text, BODY);
    assert.deepEqual(result.doubtful, []);
    assert.deepEqual(result.remasked, []);
    assert.equal(result.denoisePasses, 0);
    assert.equal(result.passes, result.scorePasses);
    assert.equal(calls.length, 4);
  });

  it('refine re-masks exactly the tokens below the threshold (computed from the scores) and denoises only those', async () => {
    const scores = await scoreRegion(engine, REQUEST);
    const sorted = [...scores.tokens].sort((a, b) => a.prob - b.prob);
    // Between the 2nd and 3rd lowest: two tokens are doubtful (ties aside), whatever the model's calibration.
    const threshold = (sorted[1].prob + sorted[2].prob) / 2;
    const expected = scores.tokens.map((t, i) => (t.prob < threshold ? i : -1)).filter((i) => i >= 0);
    assert.ok(expected.length >= 2 && expected.length < scores.tokens.length);
    calls = [];
    const request: RefineRequest = { ...REQUEST, threshold, sampler: { strategy: 'threshold' } };
    const result = await refineRegion(engine, request);
    assert.deepEqual(result.doubtful, expected);
    assert.ok(
      expected.every((i) => result.remasked.includes(i)),
      'doubtful tokens are re-masked',
    );
    assert.ok(result.denoisePasses >= 1);
    assert.equal(result.passes, result.scorePasses + result.denoisePasses);
    assert.equal(calls.length, result.passes);
    // Denoising predicts re-masked positions only: the kept tokens are never asked about.
    const start = calls[0].positions.reduce((a, b) => Math.min(a, b), Infinity);
    const remaskedPositions = new Set(result.remasked.map((i) => start + i));
    for (const c of calls.slice(result.scorePasses)) {
      assert.ok(
        c.positions.every((p) => remaskedPositions.has(p)),
        'denoise predicts re-masked positions only',
      );
    }
    // Text outside the re-masked tokens is kept byte for byte.
    const kept = scores.tokens.filter((_, i) => !result.remasked.includes(i));
    const firstChanged = Math.min(...result.remasked.map((i) => scores.tokens[i].start));
    assert.equal(result.text.slice(0, firstChanged), BODY.slice(0, firstChanged));
    const lastChanged = Math.max(...result.remasked.map((i) => scores.tokens[i].end));
    assert.ok(result.text.endsWith(BODY.slice(lastChanged)));
    assert.ok(kept.length > 0);
    // A re-masked token outside the model's top-k cannot come back under greedy decoding.
    if (result.remasked.every((i) => !scores.tokens[i].exact)) {
      assert.equal(result.changed, true);
      assert.notEqual(result.text, BODY);
    }
  });

  it('refine with the threshold at the lowest computed score: nothing is strictly below it, nothing changes', async () => {
    const scores = await scoreRegion(engine, REQUEST);
    const lowest = Math.min(...scores.tokens.map((t) => t.prob));
    const result = await refineRegion(engine, { ...REQUEST, threshold: lowest });
    assert.deepEqual(result.doubtful, []);
    assert.equal(result.text, BODY);
    assert.equal(result.changed, false);
    const above = await refineRegion(engine, { ...REQUEST, threshold: lowest + 1e-9 });
    assert.ok(above.doubtful.length >= 1, 'just above the lowest score, the lowest token is doubtful');
  });

  it('refine: at most maxFraction of the tokens, lowest first', async () => {
    const result = await refineRegion(engine, { ...REQUEST, threshold: 1, maxFraction: 0.1 });
    const n = result.scores.tokens.length;
    assert.equal(result.doubtful.length, Math.floor(n * 0.1));
    const worst = Math.max(...result.doubtful.map((i) => result.scores.tokens[i].prob));
    const others = result.scores.tokens.filter((_, i) => !result.doubtful.includes(i));
    assert.ok(others.every((t) => t.prob >= worst));
    await assert.rejects(refineRegion(engine, { ...REQUEST, threshold: 2 }), /threshold must be within/);
  });

  it('refine streams snapshots with a trace when asked', async () => {
    const snapshots: Snapshot[] = [];
    const result = await refineRegion(
      engine,
      { ...REQUEST, threshold: 1, maxFraction: 0.2, trace: true, sampler: { strategy: 'sequential' } },
      { onSnapshot: (s) => snapshots.push(s) },
    );
    assert.ok(snapshots.length >= 1);
    const last = snapshots.at(-1)!;
    assert.equal(last.masksLeft, 0);
    assert.equal(last.text, result.text);
    assert.ok(last.trace);
    const commits = snapshots.flatMap((s) => s.trace!.events).filter((e) => e.kind === 'commit');
    assert.ok(commits.length >= result.remasked.length);
  });

  it('a doubtful token inside a parse error takes its whole line with it; outside one, nothing more', async () => {
    const broken = BODY.replace('    return True', '    return True)');
    const request: RefineRequest = { ...REQUEST, text: broken };
    const { tokens } = await scoreRegion(engine, request);
    const paren = tokens.findIndex((t) => t.text === ')' && t.start > broken.indexOf('return True'));
    assert.ok(paren >= 0);
    const lineStart = broken.indexOf('    return True)');
    const expected = tokens
      .map((t, i) => (t.start >= lineStart && t.text.trim().length > 0 ? i : -1))
      .filter((i) => i >= 0);
    assert.deepEqual(await parseErrorLines(request, tokens, [paren]), expected);
    assert.deepEqual(
      expected.map((i) => tokens[i].text.trim()),
      ['return', 'True', ')'],
    );
    // A doubtful token on a line that parses: no line expansion.
    const clean = await scoreRegion(engine, REQUEST);
    assert.deepEqual(await parseErrorLines(REQUEST, clean.tokens, [0, 1]), []);
  });

  it('a shifted model scores a region at the very start of a file (lead token)', async () => {
    const dir = copyFixture((m) => (m.logit_shift = 'shifted'));
    const shifted = await InfillEngine.load({ modelDir: dir, executionProvider: 'cpu', threads: 1 });
    try {
      const result = await scoreRegion(shifted, { ...REQUEST, prefix: '', groups: 2 });
      assert.equal(result.tokens.map((t) => t.text).join(''), BODY);
      assert.equal(result.passes, 2);
    } finally {
      await shifted.dispose();
    }
  });
});

describe('infill trace for the visualiser (fixture)', { skip: fixtureSkip() }, () => {
  let engine: InfillEngine;
  before(async () => {
    engine = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 });
  });
  after(async () => engine?.dispose());

  const infill = {
    id: 3,
    prefix: PREFIX,
    suffix: SUFFIX,
    selectionText: BODY,
    languageId: 'python',
    canvasTokens: 24,
    sampler: { strategy: 'sequential' as const, blockSize: 0 },
  };

  it('without trace, snapshots carry no per-position state', async () => {
    const snapshots: Snapshot[] = [];
    await engine.infill(infill, { onSnapshot: (s) => snapshots.push(s) });
    assert.ok(snapshots.length > 1);
    assert.ok(snapshots.every((s) => s.trace === undefined));
  });

  it('with trace, every snapshot has pieces, confidence, commit step per position and the events between', async () => {
    const snapshots: Snapshot[] = [];
    const result = await engine.infill({ ...infill, trace: true }, { onSnapshot: (s) => snapshots.push(s) });
    assert.equal(snapshots.length, result.steps, 'interval 0: one snapshot per step');
    for (const s of snapshots) {
      const t = s.trace!;
      assert.equal(t.pieces.length, 24);
      assert.equal(t.pieces.filter((p) => p === null).length, s.masksLeft);
      t.commitStep.forEach((c, i) => {
        assert.equal(c === null, t.pieces[i] === null);
        assert.ok(c === null || c <= s.step);
        assert.equal(t.confidence[i] === null, t.pieces[i] === null);
      });
      assert.ok(t.events.every((e) => e.step === s.step));
    }
    // Sequential: one commit per step, plus end tokens filled after the first end.
    const commits = snapshots.flatMap((s) => s.trace!.events.filter((e) => e.kind === 'commit'));
    assert.equal(
      commits.length - snapshots.flatMap((s) => s.trace!.events).filter((e) => e.kind === 'remask').length,
      24,
    );
    // Replaying the events gives the final state.
    const replay: (string | null)[] = new Array<string | null>(24).fill(null);
    for (const e of snapshots.flatMap((s) => s.trace!.events)) {
      replay[e.index] = e.kind === 'commit' ? e.piece! : null;
    }
    assert.deepEqual(replay, snapshots.at(-1)!.trace!.pieces);
  });
});

describe('tracing from the middle of a request (fixture)', { skip: fixtureSkip() }, () => {
  it('isTraced turning on mid-request: later snapshots carry a trace dated from that step', async () => {
    const engine = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 });
    try {
      const snapshots: Snapshot[] = [];
      await engine.infill(
        {
          id: 4,
          prefix: PREFIX,
          suffix: SUFFIX,
          canvasTokens: 16,
          sampler: { strategy: 'sequential', blockSize: 0 },
        },
        { onSnapshot: (s) => snapshots.push(s), isTraced: () => snapshots.length >= 3 },
      );
      assert.ok(snapshots.slice(0, 3).every((s) => s.trace === undefined));
      const traced = snapshots.slice(3);
      assert.ok(traced.length > 0 && traced.every((s) => s.trace?.tracedFrom === 4));
      // Positions committed before tracing started are dated to its first step.
      const first = traced[0].trace!;
      assert.equal(first.commitStep.filter((c) => c === 4).length, 4);
      assert.equal(first.events.filter((e) => e.kind === 'commit').length, 4);
    } finally {
      await engine.dispose();
    }
  });
});

describe('scope and expansion helpers', () => {
  it('identifierExpansion takes the other pieces of a split identifier, not its neighbours', () => {
    const pieces = [' total', '_', 'count', ' =', ' 0'];
    const p = { piece: (id: number) => pieces[id] };
    assert.deepEqual(identifierExpansion(p, [0, 1, 2, 3, 4], [2]), [0, 1]);
    assert.deepEqual(identifierExpansion(p, [0, 1, 2, 3, 4], [3]), []);
    assert.deepEqual(identifierExpansion(p, [0, 1, 2, 3, 4], [0]), [1, 2]);
  });

  it('indentationBlock: header with less indentation and the deeper lines below', () => {
    const text = 'x = 1\nfunc foo:\n    a\n\n    b\n        c\nfunc bar:\n    d\n';
    const block = indentationBlock(text, text.indexOf('b'));
    assert.equal(text.slice(block.start, block.end), 'func foo:\n    a\n\n    b\n        c');
  });

  it('enclosingFunction falls back to indentation without a grammar', async () => {
    const text = 'x = 1\nfunc foo:\n    a\n    b\nfunc bar:\n    d\n';
    const found = await enclosingFunction(text, text.indexOf('b'), 'plaintext');
    assert.equal(text.slice(found.span.start, found.span.end), 'func foo:\n    a\n    b');
    assert.match(found.how, /indentation/);
  });

  it('enclosingFunction finds a TypeScript method', async () => {
    const text = 'class A {\n  m(x: number) {\n    return x + 1;\n  }\n}\n';
    const found = await enclosingFunction(text, text.indexOf('x + 1'), 'typescript');
    assert.equal(text.slice(found.span.start, found.span.end), '  m(x: number) {\n    return x + 1;\n  }');
  });
});

describe('score and refine through the engine process', { skip: fixtureSkip() }, () => {
  const client = new EngineClient({ enginePath: ENGINE_ENTRY });
  after(() => client.dispose());

  it('routes score and refine replies by request id; cancel aborts', async () => {
    await client.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 });
    const { id: _id, ...request } = REQUEST;
    void _id;
    const [a, b] = await Promise.all([client.score(request), client.score({ ...request, groups: 2 })]);
    assert.notEqual(a.requestId, b.requestId);
    assert.equal(a.passes, 4);
    assert.equal(b.passes, 2);
    const snapshots: Snapshot[] = [];
    const refined = await client.refine({ ...request, threshold: 1, maxFraction: 0.2 }, (s) =>
      snapshots.push(s),
    );
    assert.ok(refined.remasked.length > 0);
    assert.ok(snapshots.every((s) => s.requestId === refined.requestId));
    const controller = new AbortController();
    const pending = client.refine(
      { ...request, threshold: 1, sampler: { strategy: 'sequential' } },
      undefined,
      controller.signal,
    );
    controller.abort();
    await assert.rejects(pending, /cancelled/);
    const after = await client.score(request);
    assert.equal(after.passes, 4, 'the engine serves the next request after a cancel');
    assert.equal(client.state, 'ready');
  });
});

describe('scoring on the full-logits graph (fixture)', { skip: fixtureSkip() }, () => {
  it('gives the same top-k and probabilities as the positions_topk head', async () => {
    const topk = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 });
    const full = await InfillEngine.load({
      modelDir: FIXTURE_DIR,
      executionProvider: 'cpu',
      threads: 1,
      useFullLogitsGraph: true,
    });
    try {
      const a = await scoreRegion(topk, REQUEST);
      const b = await scoreRegion(full, REQUEST);
      assert.equal(a.tokens.length, b.tokens.length);
      a.tokens.forEach((t, i) => {
        const u = b.tokens[i];
        assert.equal(t.text, u.text);
        assert.equal(t.rank, u.rank);
        assert.ok(Math.abs(t.prob - u.prob) < 1e-4, `${t.prob} vs ${u.prob}`);
        assert.deepEqual(
          t.alternatives.map((x) => x.text),
          u.alternatives.map((x) => x.text),
        );
      });
    } finally {
      await topk.dispose();
      await full.dispose();
    }
  });
});
