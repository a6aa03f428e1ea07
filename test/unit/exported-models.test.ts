// Models converted by the Python exporter (models/export) run in ONNX Runtime exactly like the PyTorch
// module they came from, and the engine completes infills with them through its normal loading path.
//
// The tiny random-weight models live in test-artifacts/exported/ (written by test/python/test_export.py or
// `/usr/bin/python3 -m models.export.tiny`); when they are missing, this file builds them with Debian's
// Python (override with DI_PYTHON). Each model folder holds reference.json: inputs and the PyTorch outputs
// of both graph contracts (positions_topk and full_logits). Without Python+torch the tests skip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { EngineClient } from '../../src/engine/client';
import { InfillEngine } from '../../src/engine/engine';
import { loadManifest } from '../../src/engine/manifest';
import { rowForPosition } from '../../src/engine/shift';
import { ENGINE_ENTRY, REPO_ROOT } from './helpers';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'exported');
const VARIANTS = [
  'dream-tiny',
  'opendcoder-tiny',
  'llada-tiny',
  'llama-tiny',
  'dream-chain',
  'dream-fp16c',
  'qwen3-tiny',
  'qwen3-untied-fp16',
  'a2d-qwen2-tiny',
  // every family at the quantised dtypes (models/export/tiny.py)
  ...['dream', 'qwen3', 'a2d-qwen2', 'llada', 'llama'].flatMap((f) => [`${f}-int8`, `${f}-int4`]),
];
const TOLERANCE = 1e-4;
/** --fp16-compute graphs round activations to float16 inside the matmuls. */
const FP16_COMPUTE_TOLERANCE = 5e-3;
/** ... and its logits are float16 numbers: one ulp at |x| in [8, 16) is 7.8e-3. */
const FP16_LOGITS_TOLERANCE = 2e-2;
/**
 * int8: the PyTorch reference rounds each quantised layer's input as DynamicQuantizeLinear does; an activation
 * on a rounding boundary may still land one uint8 step away (test/python/test_export.py states the same).
 */
const INT8_TOLERANCE = 1e-3;
const INT8_LOGITS_TOLERANCE = 1e-2;

function tolerances(ref: Reference): { probs: number; logits: number } {
  if (ref.fp16_compute) return { probs: FP16_COMPUTE_TOLERANCE, logits: FP16_LOGITS_TOLERANCE };
  if (ref.dtype === 'int8') return { probs: INT8_TOLERANCE, logits: INT8_LOGITS_TOLERANCE };
  // int4: the reference holds the same dequantised weights; MatMulNBits dequantises to float32
  return { probs: TOLERANCE, logits: TOLERANCE };
}

type Json = number | null;
interface ReferenceCase {
  input_ids: number[][];
  positions: number[][];
  topk_ids: number[][][];
  topk_probs: number[][][];
  entropy: number[][];
  logits: Json[][][];
}
interface Reference {
  model: string;
  dtype?: 'fp32' | 'fp16' | 'int8' | 'int4';
  fp16_weights: boolean;
  fp16_compute: boolean;
  logit_shift: 'none' | 'shifted';
  mask: number;
  top_k: number;
  cases: ReferenceCase[];
  chain?: Record<string, string>;
}

let skipReason: string | false = false;

function haveArtifacts(): boolean {
  return VARIANTS.every((v) => fs.existsSync(path.join(ARTIFACTS, v, 'reference.json')));
}

function ensureArtifacts(): void {
  if (haveArtifacts()) {
    return;
  }
  const python = process.env.DI_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, ['-m', 'models.export.tiny', '--out', ARTIFACTS], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0 || !haveArtifacts()) {
    skipReason = `could not build the exported test models with ${python} (${(r.stderr || String(r.error)).trim().split('\n').pop()})`;
  }
}

function reference(variant: string): Reference {
  return JSON.parse(fs.readFileSync(path.join(ARTIFACTS, variant, 'reference.json'), 'utf8')) as Reference;
}

function int64(rows: number[][]): ort.Tensor {
  const data = BigInt64Array.from(rows.flat().map((v) => BigInt(v)));
  return new ort.Tensor('int64', data, [rows.length, rows[0].length]);
}

function floats(t: ort.Tensor): number[] {
  return Array.from(t.data as Float32Array);
}

function ints(t: ort.Tensor): number[] {
  return Array.from(t.data as BigInt64Array, (v) => Number(v));
}

function maxAbsDiff(got: number[], want: number[]): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
  }
  return worst;
}

async function session(variant: string, file: 'onnx' | 'onnx_full_logits'): Promise<ort.InferenceSession> {
  const manifest = JSON.parse(fs.readFileSync(path.join(ARTIFACTS, variant, 'model.json'), 'utf8')) as Record<
    string,
    string
  >;
  return ort.InferenceSession.create(path.join(ARTIFACTS, variant, manifest[file]), {
    executionProviders: ['cpu'],
  });
}

describe('exported models (models/export) in ONNX Runtime', () => {
  before(() => ensureArtifacts());

  for (const variant of VARIANTS) {
    it(`${variant}: positions_topk head matches PyTorch`, async (t) => {
      if (skipReason) return t.skip(skipReason);
      const ref = reference(variant);
      const tol = tolerances(ref).probs;
      const s = await session(variant, 'onnx');
      assert.deepEqual(s.inputNames, ['input_ids', 'positions']);
      assert.deepEqual(s.outputNames, ['topk_ids', 'topk_probs', 'entropy']);
      let worstProb = 0;
      let worstEntropy = 0;
      for (const c of ref.cases) {
        const out = await s.run({ input_ids: int64(c.input_ids), positions: int64(c.positions) });
        const n = c.positions[0].length;
        assert.deepEqual(out.topk_ids.dims, [c.positions.length, n, ref.top_k]);
        assert.deepEqual(out.entropy.dims, [c.positions.length, n]);
        const probs = c.topk_probs.flat(2);
        worstProb = Math.max(worstProb, maxAbsDiff(floats(out.topk_probs), probs));
        worstEntropy = Math.max(worstEntropy, maxAbsDiff(floats(out.entropy), c.entropy.flat()));
        const ids = ints(out.topk_ids);
        assert.ok(!ids.includes(ref.mask), 'the mask token is never predicted');
        // ids agree wherever the probabilities are distinguishable (exact ties may be ordered differently)
        const wantIds = c.topk_ids.flat(2);
        for (let i = 0; i < wantIds.length; i++) {
          const row = Math.floor(i / ref.top_k) * ref.top_k;
          const rowProbs = probs.slice(row, row + ref.top_k);
          const tied = rowProbs.some((p, j) => row + j !== i && Math.abs(p - probs[i]) <= tol);
          const last = i - row === ref.top_k - 1;
          if (!tied && !last) {
            assert.equal(ids[i], wantIds[i], `${variant}: topk id ${i}`);
          }
        }
      }
      t.diagnostic(
        `max abs diff: topk_probs ${worstProb.toExponential(2)}, entropy ${worstEntropy.toExponential(2)}`,
      );
      assert.ok(worstProb < tol, `topk_probs diff ${worstProb}`);
      assert.ok(worstEntropy < tol, `entropy diff ${worstEntropy}`);
    });

    it(`${variant}: full_logits graph matches PyTorch`, async (t) => {
      if (skipReason) return t.skip(skipReason);
      const ref = reference(variant);
      const tol = tolerances(ref).logits;
      const s = await session(variant, 'onnx_full_logits');
      let worst = 0;
      for (const c of ref.cases) {
        const out = await s.run({ input_ids: int64(c.input_ids) });
        const got = floats(out.logits);
        const want = c.logits.flat(2);
        assert.equal(got.length, want.length);
        const vocab = out.logits.dims[2];
        for (let i = 0; i < got.length; i++) {
          const w = want[i];
          if (w === null) {
            assert.equal(got[i], -Infinity, `logit ${i} should be -inf`);
          } else {
            worst = Math.max(worst, Math.abs(got[i] - w));
          }
          if (i % vocab === ref.mask) {
            assert.equal(got[i], -Infinity, 'mask logit is -inf');
          }
        }
      }
      t.diagnostic(`max abs diff: logits ${worst.toExponential(2)}`);
      assert.ok(worst < tol, `logits diff ${worst}`);
    });
  }

  it('shifted model: the prediction for position i comes from row i - 1', async (t) => {
    if (skipReason) return t.skip(skipReason);
    // dream-chain's row r predicts the letter after input token r (a->b, ..., z->a) with near-certainty
    // and is uniform after a mask. Input "abcxyz" + 4 masks: position 6 (first mask) must read row 5 ('z').
    const dir = path.join(ARTIFACTS, 'dream-chain');
    const manifest = loadManifest(dir);
    assert.equal(manifest.logitShift, 'shifted');
    const ref = reference('dream-chain');
    const ids = ref.cases[0].input_ids[0];
    const s = await session('dream-chain', 'onnx');
    const rows = [1, 2, 3, 4, 5, 6, 7].map((p) => rowForPosition(p, manifest.logitShift));
    assert.deepEqual(rows, [0, 1, 2, 3, 4, 5, 6]);
    const out = await s.run({ input_ids: int64([ids]), positions: int64([rows]) });
    const top = ints(out.topk_ids).filter((_, i) => i % ref.top_k === 0);
    const p = floats(out.topk_probs).filter((_, i) => i % ref.top_k === 0);
    const letters = top.slice(0, 6).map((id) => String.fromCharCode(id));
    assert.deepEqual(letters, ['b', 'c', 'd', 'y', 'z', 'a']); // positions 1..6 <- tokens a b c x y z
    assert.ok(p.slice(0, 6).every((v) => v > 0.99));
    assert.ok(p[6] < 0.01, 'position 7 follows a mask: uncertain');
    // the unshifted reading (row 6 for position 6) would see the mask's own row: uniform
    const wrong = await s.run({ input_ids: int64([ids]), positions: int64([[6]]) });
    assert.ok(floats(wrong.topk_probs)[0] < 0.01);
  });
});

describe('exported models through the engine', () => {
  before(() => ensureArtifacts());

  it('dream-chain: the engine fills a canvas after "xyz" with "abcde" (shift end to end)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const engine = await InfillEngine.load({
      modelDir: path.join(ARTIFACTS, 'dream-chain'),
      executionProvider: 'cpu',
      threads: 1,
    });
    try {
      const result = await engine.infill({
        id: 1,
        prefix: 'xyz',
        suffix: '',
        canvasTokens: 5,
        sampler: { strategy: 'sequential', remaskLowConfidence: false, remaskParseErrors: false },
      });
      assert.equal(result.completion, 'abcde');
      assert.equal(result.canvasLength, 5);
    } finally {
      await engine.dispose();
    }
  });

  for (const variant of VARIANTS) {
    for (const useFullLogitsGraph of [false, true]) {
      const graph = useFullLogitsGraph ? 'full-logits graph' : 'positions head';
      it(`${variant}: loads through the manifest and completes an infill (${graph})`, async (t) => {
        if (skipReason) return t.skip(skipReason);
        const dir = path.join(ARTIFACTS, variant);
        const engine = await InfillEngine.load({
          modelDir: dir,
          executionProvider: 'cpu',
          threads: 1,
          useFullLogitsGraph,
        });
        try {
          assert.equal(engine.info.vocabSize, engine.manifest.vocabSize);
          const snapshots: number[] = [];
          const result = await engine.infill(
            {
              id: 7,
              prefix: 'def add(a, b):\n    return ',
              suffix: '\n\nprint(add(1, 2))\n',
              canvasTokens: 6,
            },
            { onSnapshot: (s) => snapshots.push(s.masksLeft) },
          );
          // 6 requested (the engine may add the prefix's trailing whitespace to the canvas)
          assert.ok(result.canvasLength >= 6 && result.canvasLength <= 8, `canvas ${result.canvasLength}`);
          assert.ok(result.tokens <= result.canvasLength, `at most the canvas: ${result.tokens}`);
          assert.ok(result.nfe >= 1);
          assert.equal(typeof result.completion, 'string');
          assert.ok(!result.completion.includes('<|mask|>') && !result.completion.includes('<|mdm_mask|>'));
          const decodedTokens = engine.tokenizer.encode(result.completion).length;
          assert.ok(decodedTokens <= result.canvasLength * 4, 'decoded text stays within the canvas');
          assert.equal(snapshots.at(-1), 0, 'the last snapshot has no masks left');
        } finally {
          await engine.dispose();
        }
      });
    }
  }

  it('the extension path: EngineClient (engine child process) loads llama-tiny (external data) and dream-chain', async (t) => {
    if (skipReason) return t.skip(skipReason);
    if (!fs.existsSync(ENGINE_ENTRY)) return t.skip('out/src/engine/process/main.js not compiled');
    const client = new EngineClient({ enginePath: ENGINE_ENTRY });
    try {
      const info = await client.load({
        modelDir: path.join(ARTIFACTS, 'llama-tiny'),
        executionProvider: 'cpu',
        threads: 1,
      });
      assert.equal(info.name, 'llama-tiny');
      const random = await client.infill({ prefix: 'x = ', suffix: '\n', canvasTokens: 4 }, () => undefined);
      assert.ok(random.canvasLength >= 4 && random.tokens <= random.canvasLength);
      await client.load({
        modelDir: path.join(ARTIFACTS, 'dream-chain'),
        executionProvider: 'cpu',
        threads: 1,
      });
      const chain = await client.infill(
        { prefix: 'klm', suffix: '', canvasTokens: 3, sampler: { strategy: 'sequential' } },
        () => undefined,
      );
      assert.equal(chain.completion, 'nop');
    } finally {
      client.dispose();
    }
  });

  it('the CLI runs an exported model (dist-independent: the compiled out/src/cli.js)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const cli = path.join(REPO_ROOT, 'out', 'src', 'cli.js');
    if (!fs.existsSync(cli)) return t.skip('out/src/cli.js not compiled');
    const file = path.join(ARTIFACTS, 'cli-input.txt');
    fs.writeFileSync(file, 'xyz\n');
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'infill',
        '--model',
        path.join(ARTIFACTS, 'dream-chain'),
        '--file',
        file,
        '--start',
        '1:4',
        '--end',
        '1:4',
      ].concat(['--canvas-tokens', '4', '--strategy', 'sequential', '--no-remask', '--ep', 'cpu']),
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'abcd\n');
  });
});
