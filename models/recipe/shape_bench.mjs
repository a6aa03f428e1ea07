// Milliseconds per denoising step on this CPU for exported models (models/recipe/shape_probe.py writes them):
// onnxruntime-node, batch 1, a window of --length tokens, --rows requested rows (the canvas of a hole), the
// thread count the engine uses by default (2). Prints one JSON object per model.
//   node models/recipe/shape_bench.mjs --length 256 --rows 64 --runs 15 build/shape-probe/6x384 ...
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

for (const dir of args) {
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const ids = BigInt64Array.from({ length }, (_, i) => BigInt(3 + ((i * 7919) % 4000)));
  const pos = BigInt64Array.from({ length: rows }, (_, i) => BigInt(Math.floor((length - rows) / 2) + i));
  const feeds = {
    input_ids: new ort.Tensor('int64', ids, [1, length]),
    positions: new ort.Tensor('int64', pos, [1, rows]),
  };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(
    JSON.stringify({ model: path.basename(dir), length, rows, threads, runs, median_ms: times[Math.floor(runs / 2)], min_ms: times[0] }),
  );
  await session.release();
}
