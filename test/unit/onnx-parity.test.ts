// ONNX Runtime (Node) against PyTorch: models/recipe/export.py stores one masked input with PyTorch's outputs in
// reference.json beside every exported model; this test runs the same input through onnxruntime-node.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';

interface Reference {
  input_ids: number[];
  positions: number[];
  topk_ids: number[][];
  topk_probs: number[][];
  entropy: number[];
  logits_rows: number[];
  logits_slice: number[][];
}

const repo = path.resolve(__dirname, '..', '..', '..');
const MODEL_DIRS = ['models/fixture', 'models/default', 'models/uniform']
  .map((dir) => path.join(repo, dir))
  .filter((dir) => fs.existsSync(path.join(dir, 'reference.json')));

function int64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}

test('at least the fixture model ships a PyTorch reference', () => {
  assert.ok(MODEL_DIRS.some((dir) => dir.endsWith(path.join('models', 'fixture'))));
});

for (const dir of MODEL_DIRS) {
  const name = path.relative(repo, dir);
  const ref: Reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));

  test(`${name}: positions head matches PyTorch`, async () => {
    const session = await ort.InferenceSession.create(path.join(dir, manifest.onnx));
    const n = ref.positions.length;
    const out = await session.run({
      input_ids: int64(ref.input_ids, [1, ref.input_ids.length]),
      positions: int64(ref.positions, [1, n]),
    });
    const k = manifest.top_k as number;
    assert.deepEqual(out.topk_ids.dims, [1, n, k]);
    const ids = Array.from(out.topk_ids.data as BigInt64Array, Number);
    const probs = Array.from(out.topk_probs.data as Float32Array);
    const entropy = Array.from(out.entropy.data as Float32Array);
    let maxProbDiff = 0;
    let maxEntropyDiff = 0;
    for (let row = 0; row < n; row++) {
      // The most probable token must agree exactly; lower ranks may swap only between near-ties.
      assert.equal(ids[row * k], ref.topk_ids[row][0], `row ${row}: top-1 id`);
      for (let j = 0; j < k; j++) {
        maxProbDiff = Math.max(maxProbDiff, Math.abs(probs[row * k + j] - ref.topk_probs[row][j]));
      }
      maxEntropyDiff = Math.max(maxEntropyDiff, Math.abs(entropy[row] - ref.entropy[row]));
    }
    console.log(
      `${name}: max |prob diff| ${maxProbDiff.toExponential(2)}, max |entropy diff| ${maxEntropyDiff.toExponential(2)}`,
    );
    assert.ok(maxProbDiff < 1e-4, `probabilities differ by ${maxProbDiff}`);
    assert.ok(maxEntropyDiff < 1e-3, `entropy differs by ${maxEntropyDiff}`);
  });

  if (manifest.onnx_full_logits) {
    test(`${name}: full-logits graph matches PyTorch`, async () => {
      const session = await ort.InferenceSession.create(path.join(dir, manifest.onnx_full_logits));
      const length = ref.input_ids.length;
      const out = await session.run({ input_ids: int64(ref.input_ids, [1, length]) });
      const vocab = manifest.vocab_size as number;
      assert.deepEqual(out.logits.dims, [1, length, vocab]);
      const logits = out.logits.data as Float32Array;
      let maxDiff = 0;
      ref.logits_rows.forEach((row, i) => {
        ref.logits_slice[i].forEach((expected, v) => {
          maxDiff = Math.max(maxDiff, Math.abs(logits[row * vocab + v] - expected));
        });
      });
      console.log(`${name}: full logits max |diff| ${maxDiff.toExponential(2)}`);
      assert.ok(maxDiff < 1e-3, `logits differ by ${maxDiff}`);
    });
  }
}

// The Python BPE (models/recipe/bpe.py) and @huggingface/tokenizers in Node must produce the same ids and both
// must round-trip code byte for byte.
for (const dir of MODEL_DIRS) {
  const name = path.relative(repo, dir);
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as {
    tokenizer_cases?: { text: string; ids: number[] }[];
  };
  test(`${name}: Node tokenizer agrees with the Python tokenizer and round-trips`, async () => {
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const tokenizer = new Tokenizer(
      JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    const cases = ref.tokenizer_cases ?? [];
    assert.ok(cases.length >= 5, 'reference.json carries tokenizer cases');
    for (const { text, ids } of cases) {
      const encoded = tokenizer.encode(text, { add_special_tokens: false }).ids;
      assert.deepEqual(encoded, ids, `ids for ${JSON.stringify(text)}`);
      const decoded = tokenizer.decode(encoded, {
        skip_special_tokens: false,
        clean_up_tokenization_spaces: false,
      });
      assert.equal(decoded, text);
    }
  });
}
