// Runs an exported graph with onnxruntime-node (the runtime the extension uses) and prints its outputs as
// JSON, so the Python tests can compare ONNX Runtime against the PyTorch module.
//
//   node models/export/ort_check.mjs MODEL.onnx INPUTS.json [OUT.json]
//
// INPUTS.json: {"input_ids": [[...]], "positions": [[...]]} (positions only for positions_topk graphs).
// Output: {"<output name>": {"dims": [...], "data": [...]}, ...}; -Infinity is written as null.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [modelPath, inputsPath, outPath] = process.argv.slice(2);
if (!modelPath || !inputsPath) {
  console.error('usage: node models/export/ort_check.mjs MODEL.onnx INPUTS.json [OUT.json]');
  process.exit(2);
}

function tensor2d(rows) {
  const dims = [rows.length, rows[0].length];
  const data = BigInt64Array.from(rows.flat().map((v) => BigInt(v)));
  return new ort.Tensor('int64', data, dims);
}

const inputs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
const feeds = {};
for (const name of session.inputNames) {
  if (!(name in inputs)) {
    console.error(`graph input ${name} missing from ${inputsPath}`);
    process.exit(2);
  }
  feeds[name] = tensor2d(inputs[name]);
}
const started = performance.now();
const results = await session.run(feeds);
const elapsedMs = performance.now() - started;
const out = { _elapsed_ms: elapsedMs, _inputs: session.inputNames, _outputs: session.outputNames };
for (const name of session.outputNames) {
  const t = results[name];
  const data = Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v));
  out[name] = { dims: t.dims, type: t.type, data };
}
const text = JSON.stringify(out);
if (outPath) {
  fs.writeFileSync(outPath, text);
} else {
  process.stdout.write(text + '\n');
}
