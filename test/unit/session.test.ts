// The ONNX session on the real fixture model: the positions_topk head agrees with top-k computed from
// the full-logits graph; provider choice falls back to CPU with a reason; threads are honoured.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadManifest, type ModelManifest } from '../../src/engine/manifest';
import { providerOrder } from '../../src/engine/providers';
import { ModelSession } from '../../src/engine/session';
import { CodeTokenizer } from '../../src/engine/tokenizer';
import { topKFromLogits } from '../../src/engine/topk';
import { FIXTURE_DIR, fixtureSkip } from './helpers';

describe('execution providers', () => {
  it('auto tries CUDA, then WebGPU, then the platform provider, then cpu; forced choices end in cpu', () => {
    assert.deepEqual(providerOrder('auto', 'linux', 'x64'), ['cuda', 'webgpu', 'cpu']);
    assert.deepEqual(providerOrder('auto', 'win32', 'x64'), ['webgpu', 'dml', 'cpu']);
    assert.deepEqual(providerOrder('auto', 'darwin', 'arm64'), ['webgpu', 'coreml', 'cpu']);
    assert.deepEqual(providerOrder('auto', 'linux', 'arm64'), ['cpu']);
    assert.deepEqual(providerOrder('cpu', 'linux', 'x64'), ['cpu']);
    assert.deepEqual(providerOrder('cuda', 'linux', 'x64'), ['cuda', 'cpu']);
    assert.deepEqual(providerOrder('webgpu', 'linux', 'x64'), ['webgpu', 'cpu']);
  });
});

describe('top-k from logits', () => {
  it('probabilities, order, entropy and the excluded mask id', () => {
    const logits = [0, Math.log(3), 100, Math.log(6)]; // id 2 (huge) is the mask: excluded
    const r = topKFromLogits(logits, 0, 4, 2, [2]);
    assert.deepEqual(r.ids, [3, 1]);
    assert.ok(Math.abs(r.probs[0] - 0.6) < 1e-9 && Math.abs(r.probs[1] - 0.3) < 1e-9);
    const h = -(0.1 * Math.log(0.1) + 0.3 * Math.log(0.3) + 0.6 * Math.log(0.6));
    assert.ok(Math.abs(r.entropy - h) < 1e-9);
  });
});

describe('model session (fixture)', { skip: fixtureSkip() }, () => {
  let manifest: ModelManifest;
  let topk: ModelSession;
  let full: ModelSession | undefined;
  let ids: number[];

  before(async () => {
    manifest = loadManifest(FIXTURE_DIR);
    const tokenizer = CodeTokenizer.forManifest(manifest);
    topk = await ModelSession.create(manifest, { executionProvider: 'cpu', threads: 1 });
    if (manifest.fullLogitsPath) {
      full = await ModelSession.create(manifest, {
        executionProvider: 'cpu',
        threads: 1,
        useFullLogitsGraph: true,
      });
    }
    const mask = manifest.specialTokens.mask;
    ids = [
      ...tokenizer.encode('def add(a, b):\n    return '),
      mask,
      mask,
      mask,
      ...tokenizer.encode('\n\nprint(add(1, 2))\n'),
    ];
  });

  after(async () => {
    await topk?.release();
    await full?.release();
  });

  it('returns top-k sorted by probability, never the mask token, with entropy', async () => {
    const rows = [3, 10, 11, 12];
    const out = await topk.forward(ids, rows);
    assert.equal(out.length, rows.length);
    for (const r of out) {
      assert.ok(r.ids.length >= 1);
      assert.ok(!r.ids.includes(manifest.specialTokens.mask));
      for (let i = 1; i < r.probs.length; i++) {
        assert.ok(r.probs[i - 1] >= r.probs[i]);
      }
      assert.ok(r.probs.reduce((a, b) => a + b, 0) <= 1 + 1e-4);
      assert.ok(r.entropy >= 0 && Number.isFinite(r.entropy));
    }
  });

  it('positions_topk agrees with top-k computed in TypeScript from full logits', async (t) => {
    if (!full) {
      return t.skip('fixture has no onnx_full_logits');
    }
    const rows = ids.map((_, i) => i).filter((i) => i % 2 === 0);
    const a = await topk.forward(ids, rows);
    const b = await full.forward(ids, rows);
    for (let i = 0; i < rows.length; i++) {
      assert.equal(a[i].ids[0], b[i].ids[0], `row ${rows[i]} top-1`);
      assert.ok(
        Math.abs(a[i].probs[0] - b[i].probs[0]) < 1e-3,
        `row ${rows[i]} p1 ${a[i].probs[0]} vs ${b[i].probs[0]}`,
      );
      assert.ok(Math.abs(a[i].entropy - b[i].entropy) < 1e-2, `row ${rows[i]} entropy`);
    }
  });

  it('rejects rows outside the input', async () => {
    await assert.rejects(topk.forward(ids, [ids.length]), /outside input/);
  });

  it('a forced GPU provider that cannot load falls back to cpu with the reason', async (t) => {
    const s = await ModelSession.create(manifest, { executionProvider: 'cuda', threads: 1 });
    try {
      if (s.provider === 'cuda') {
        return t.skip('CUDA works on this machine');
      }
      assert.equal(s.provider, 'cpu');
      assert.match(s.fallbackReason ?? '', /cuda/);
    } finally {
      await s.release();
    }
  });
});
