// Top-1 predictions at masked positions, one forward pass per example, with a model folder's model.onnx (the
// positions head the engine runs, onnxruntime-node, CPU). For eval_distance.py.
//   node models/recipe/predict_masked.mjs MODEL_DIR examples.json > predictions.json
// examples.json: [{input_ids: [...], positions: [...]}, ...]; output: [[top-1 id per position], ...]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(repo, 'package.json'));
const ort = require('onnxruntime-node');

const [modelDir, examplesFile] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
const session = await ort.InferenceSession.create(path.join(modelDir, manifest.onnx), {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
});
const examples = JSON.parse(fs.readFileSync(examplesFile, 'utf8'));
const out = [];
for (const ex of examples) {
  const ids = BigInt64Array.from(ex.input_ids, (v) => BigInt(v));
  const pos = BigInt64Array.from(ex.positions, (v) => BigInt(v));
  const result = await session.run({
    input_ids: new ort.Tensor('int64', ids, [1, ids.length]),
    positions: new ort.Tensor('int64', pos, [1, pos.length]),
  });
  const k = result.topk_ids.dims[2];
  const top = result.topk_ids.data;
  out.push(Array.from({ length: pos.length }, (_, i) => Number(top[i * k])));
}
process.stdout.write(JSON.stringify(out));
