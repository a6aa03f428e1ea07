// Drop-in ONNX folders (src/engine/dropin.ts): a Hugging Face / Optimum layout folder with a full-logits graph
// runs without model.json. The folder is built at test time by models/export/dropin_fixture.py (a tiny Qwen3
// A2D model exported with torch.onnx: inputs input_ids / attention_mask / position_ids, output logits, files
// under onnx/); without Python + torch the tests skip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { inferDropInManifest, OVERRIDE_FILE } from '../../src/engine/dropin';
import { fullLogitsFeeds, reduceLogitRows } from '../../src/engine/dropinLogits';
import { InfillEngine } from '../../src/engine/engine';
import { loadManifest } from '../../src/engine/manifest';
import { ModelSession } from '../../src/engine/session';
import { topKFromLogits } from '../../src/engine/topk';
import { REPO_ROOT, tempDir } from './helpers';

const ROOT = path.join(REPO_ROOT, 'test-artifacts', 'dropin');
const FOLDER = path.join(ROOT, 'qwen3-dropin');
let skipReason: string | false = false;

interface DropInReference {
  input_ids: number[];
  mask: number;
  logits: number[][];
}

/** A copy of the drop-in folder whose JSON files `edit` may change. */
function copyFolder(name: string, edit?: (dir: string) => void): string {
  const dir = path.join(tempDir('dropin-'), name);
  fs.cpSync(FOLDER, dir, { recursive: true });
  edit?.(dir);
  return dir;
}

function editJson(file: string, change: (obj: Record<string, unknown>) => void): void {
  const obj = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(obj);
  fs.writeFileSync(file, JSON.stringify(obj));
}

describe('drop-in ONNX folders (no model.json)', () => {
  before(() => {
    if (fs.existsSync(path.join(ROOT, 'reference.json'))) return;
    const python = process.env.DI_PYTHON ?? '/usr/bin/python3';
    const r = spawnSync(python, ['-m', 'models.export.dropin_fixture', '--out', ROOT], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0) {
      skipReason = `could not build the drop-in folder with ${python} (${(r.stderr || String(r.error)).trim().split('\n').pop()})`;
    }
  });

  it('infers the manifest: mask from tokenizer_config, shift from model_type, vocabulary from tokenizer.json', (t) => {
    if (skipReason) return t.skip(skipReason);
    const m = loadManifest(FOLDER);
    assert.equal(m.outputKind, 'full_logits');
    assert.equal(m.onnxPath, path.join(FOLDER, 'onnx', 'model.onnx'));
    assert.equal(m.vocabSize, 260);
    assert.deepEqual(m.specialTokens, { mask: 259, pad: 256, end: 258, eos: 258, bos: 256 });
    assert.equal(m.logitShift, 'none'); // model_type a2d-qwen3
    assert.equal(m.maxLength, 4096); // min(max_position_embeddings 40960, 4096)
    assert.deepEqual(m.inferred, [
      'graph onnx/model.onnx',
      'mask 259 (tokenizer_config.json "mask_token")',
      'logit_shift none (model_type "a2d-qwen3")',
      'vocabulary 260 tokens (tokenizer.json)',
    ]);
  });

  it('the engine reduces the full logits to the top-k of the requested rows, feeding attention_mask and position_ids', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const ref = JSON.parse(fs.readFileSync(path.join(ROOT, 'reference.json'), 'utf8')) as DropInReference;
    const session = await ModelSession.create(loadManifest(FOLDER), { executionProvider: 'cpu', threads: 1 });
    try {
      const rows = [0, 5, 7, 9, 13];
      const got = await session.forward(ref.input_ids, rows);
      rows.forEach((row, i) => {
        const want = topKFromLogits(ref.logits[row], 0, ref.logits[row].length, 8, [ref.mask]);
        assert.deepEqual(got[i].ids.slice(0, 3), want.ids.slice(0, 3), `row ${row}`);
        assert.ok(!got[i].ids.includes(ref.mask), 'the mask token is never predicted');
        for (let j = 0; j < 8; j++) {
          assert.ok(Math.abs(got[i].probs[j] - want.probs[j]) < 1e-4, `row ${row} prob ${j}`);
        }
        assert.ok(Math.abs(got[i].entropy - want.entropy) < 1e-4, `row ${row} entropy`);
      });
    } finally {
      await session.release();
    }
  });

  it('completes an infill and reports the inferred manifest in the model info', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const engine = await InfillEngine.load({ modelDir: FOLDER, executionProvider: 'cpu', threads: 1 });
    try {
      assert.match(
        engine.info.inferredManifest ?? '',
        /^no model\.json; inferred: graph onnx\/model\.onnx, mask 259/,
      );
      const result = await engine.infill({
        id: 1,
        prefix: 'def f(x):\n    return ',
        suffix: '\n',
        canvasTokens: 5,
      });
      assert.ok(result.canvasLength >= 5 && result.tokens <= result.canvasLength);
      assert.ok(!result.completion.includes('<|mask|>'));
    } finally {
      await engine.dispose();
    }
  });

  it('asks precisely for what cannot be inferred, and the override file supplies it', (t) => {
    if (skipReason) return t.skip(skipReason);
    const noMask = copyFolder('no-mask', (dir) => {
      editJson(path.join(dir, 'tokenizer_config.json'), (o) => delete o.mask_token);
      editJson(path.join(dir, 'tokenizer.json'), (o) => {
        for (const tok of o.added_tokens as { content: string }[]) {
          if (tok.content === '<|mask|>') tok.content = '<|hole|>';
        }
      });
    });
    assert.throws(
      () => inferDropInManifest(noMask),
      (e: Error) =>
        e.message.includes('cannot infer the mask token') &&
        e.message.includes('no "mask_token_id"') &&
        e.message.includes(`Add {"mask_token_id": ID} to ${path.join(noMask, OVERRIDE_FILE)}`),
    );
    fs.writeFileSync(path.join(noMask, OVERRIDE_FILE), JSON.stringify({ mask_token_id: 259 }));
    assert.equal(inferDropInManifest(noMask).specialTokens.mask, 259);

    const unknownType = copyFolder('unknown-type', (dir) =>
      editJson(path.join(dir, 'config.json'), (o) => (o.model_type = 'mystery')),
    );
    assert.throws(
      () => inferDropInManifest(unknownType),
      /cannot infer the logit shift: model_type "mystery"/,
    );
    fs.writeFileSync(path.join(unknownType, OVERRIDE_FILE), JSON.stringify({ logit_shift: 'shifted' }));
    assert.equal(inferDropInManifest(unknownType).logitShift, 'shifted');
  });

  it('refuses block-diffusion folders and tokenizer/model vocabulary mismatches', (t) => {
    if (skipReason) return t.skip(skipReason);
    const bd = copyFolder('Qwen3-0.6B-diffusion-bd3lm-v0.1');
    assert.throws(
      () => loadManifest(bd),
      /block-diffusion model \(bd3lm\).*never sees the text after the hole/,
    );
    const small = copyFolder('small-vocab', (dir) =>
      editJson(path.join(dir, 'config.json'), (o) => (o.vocab_size = 100)),
    );
    assert.throws(() => loadManifest(small), /vocabulary mismatch: tokenizer.json has 260 tokens/);
  });

  it('a folder without model.json and without a graph still says the manifest is missing', () => {
    const dir = tempDir('dropin-empty-');
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    assert.throws(() => loadManifest(dir), /model\.json: manifest not found/);
  });
});

describe('full-logits reduction (dropinLogits.ts)', () => {
  /** float32 -> IEEE half bits (round to nearest; the test values are exact in half precision). */
  function toHalf(x: number): number {
    const f = new Float32Array([x]);
    const u = new Uint32Array(f.buffer)[0];
    const sign = (u >>> 16) & 0x8000;
    const exp = ((u >>> 23) & 0xff) - 127 + 15;
    if (x === 0) return sign;
    return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
  }

  it('reads only the requested rows, ignores padding columns, widens float16 and skips the mask', () => {
    const vocab = 5;
    const width = 7; // two padding columns, as a padded embedding gives
    const rows = [
      [0.5, 2, -1, 4, 1, 99, 99],
      [3, -2, 0.25, 1, 8, 99, 99],
      [1, 1, 1, 1, 1, 99, 99],
    ];
    const flat = rows.flat();
    const f32 = new ort.Tensor('float32', Float32Array.from(flat), [1, 3, width]);
    const f16 = new ort.Tensor('float16', Uint16Array.from(flat.map(toHalf)), [1, 3, width]);
    for (const t of [f32, f16]) {
      const got = reduceLogitRows(t, [1, 0], vocab, 3, 4);
      assert.deepEqual(got[0].ids, [0, 3, 2], t.type); // row 1 without the mask (id 4, logit 8) and padding (99)
      assert.deepEqual(got[1].ids, [3, 1, 0], t.type);
      const want = topKFromLogits(rows[1], 0, vocab, 3, [4]);
      got[0].probs.forEach((p, i) => assert.ok(Math.abs(p - want.probs[i]) < 1e-6, `${t.type} prob ${i}`));
      assert.ok(Math.abs(got[0].entropy - want.entropy) < 1e-6);
    }
    assert.throws(
      () => reduceLogitRows(f32, [0], 9, 3, 4),
      /logits have 7 entries per row but the tokenizer has 9/,
    );
  });

  it('feeds attention_mask / position_ids only when the graph declares them, and refuses KV-cache inputs', () => {
    const ids = new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]);
    assert.deepEqual(Object.keys(fullLogitsFeeds(['input_ids'], ids, 3)), ['input_ids']);
    const feeds = fullLogitsFeeds(['input_ids', 'attention_mask', 'position_ids'], ids, 3);
    assert.deepEqual(Array.from(feeds.attention_mask.data as BigInt64Array), [1n, 1n, 1n]);
    assert.deepEqual(Array.from(feeds.position_ids.data as BigInt64Array), [0n, 1n, 2n]);
    assert.throws(
      () => fullLogitsFeeds(['input_ids', 'past_key_values.0.key'], ids, 3),
      /past_key_values\.0\.key are not supported/,
    );
  });
});
