// One model, one process (so the resident-memory figure is this model's alone): creates the CPU session,
// runs the positions head on INPUTS.json a few times and prints JSON with load time, resident memory after
// load, ms per step and the last step's outputs. Used by models/export/bench_dtypes.py.
//
//   node models/export/bench_run.mjs MODEL.onnx INPUTS.json STEPS THREADS
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const [modelPath, inputsPath, stepsArg, threadsArg] = process.argv.slice(2);
const inputs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(threadsArg),
});
const loadMs = performance.now() - t0;
const rssLoaded = process.memoryUsage().rss;
const tensor = (rows) =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const feeds = { input_ids: tensor(inputs.input_ids), positions: tensor(inputs.positions) };
const times = [];
let out;
for (let i = 0; i < Number(stepsArg) + 1; i++) {
  const s = performance.now();
  out = await session.run(feeds);
  if (i > 0) times.push(performance.now() - s); // the first run warms caches / prepacks: not counted
}
const rssPeak = process.memoryUsage().rss;
process.stdout.write(
  JSON.stringify({
    load_ms: loadMs,
    rss_loaded_mb: (rssLoaded - rssBefore) / 2 ** 20,
    rss_after_steps_mb: (rssPeak - rssBefore) / 2 ** 20,
    ms_per_step: times,
    topk_ids: Array.from(out.topk_ids.data, Number),
    topk_probs: Array.from(out.topk_probs.data),
    k: out.topk_ids.dims[2],
  }) + '\n',
);
