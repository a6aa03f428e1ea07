// Milliseconds per denoising step on this CPU for exported models (models/recipe/shape_probe.py writes them):
// onnxruntime-node, batch 1, a window of --length tokens, --rows requested rows (the canvas of a hole), the
// thread count the engine uses by default (2). Prints one JSON object per model.
//   node models/recipe/shape_bench.mjs --length 256 --rows 64 --runs 15 build/shape-probe/6x384 ...
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(repo, 'package.json'));
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const length = opt('length', 256);
const rows = opt('rows', 64);
const runs = opt('runs', 15);
const threads = opt('threads', 2);

// All models are loaded first and timed round-robin, so that load from other processes on a shared machine slows
// them alike: their ratios stay meaningful when the absolute figures are not.
const sessions = [];
for (const dir of args) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(dir, manifest.onnx ?? 'model.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  sessions.push({ dir, session, times: [] });
}
const ids = BigInt64Array.from({ length }, (_, i) => BigInt(3 + ((i * 7919) % 4000)));
const pos = BigInt64Array.from({ length: rows }, (_, i) => BigInt(Math.floor((length - rows) / 2) + i));
const feeds = {
  input_ids: new ort.Tensor('int64', ids, [1, length]),
  positions: new ort.Tensor('int64', pos, [1, rows]),
};
for (const s of sessions) for (let i = 0; i < 3; i++) await s.session.run(feeds);
for (let r = 0; r < runs; r++) {
  for (const s of sessions) {
    const t0 = process.hrtime.bigint();
    await s.session.run(feeds);
    s.times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
for (const s of sessions) {
  s.times.sort((a, b) => a - b);
  const median = s.times[Math.floor(runs / 2)];
  console.log(JSON.stringify({ model: s.dir, length, rows, threads, runs, median_ms: median, min_ms: s.times[0] }));
  await s.session.release();
}
