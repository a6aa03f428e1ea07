// Cost of the three introspection features on one model (in-process, like speed.ts): pseudo-likelihood
// scoring for several group counts G, Refine Selection with nothing doubtful and with a threshold that
// re-masks tokens, the confidence lens's function scope, and the visualiser's trace overhead on a
// sequential infill (trace on vs off, interleaved runs). Forward passes are counted at the predictor.
//
//   npm run compile
//   node out/bench/score.js --model models/default [--runs 7] [--threads 1]
// Prints one line per measurement (median ms); nothing is written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { InfillEngine } from '../src/engine/engine';
import { refineRegion, scoreRegion } from '../src/engine/score';
import { median } from '../src/eval/metrics';
import { repoRoot } from '../src/eval/paths';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/default' },
      runs: { type: 'string', default: '7' },
      threads: { type: 'string', default: '1' },
    },
  });
  const runs = Number(values.runs);
  const engine = await InfillEngine.load({
    modelDir: path.resolve(values.model!),
    executionProvider: 'cpu',
    threads: Number(values.threads),
  });
  let passes = 0;
  const predict = engine.predict;
  engine.predict = (ids, positions) => {
    passes++;
    return predict(ids, positions);
  };
  const doc = fs.readFileSync(path.join(repoRoot(), 'test/fixtures/workspace/sample.py'), 'utf8');
  const start = doc.indexOf('    counts');
  const end = doc.indexOf('    return ranked') + '    return ranked\n'.length;
  const base = {
    id: 1,
    prefix: doc.slice(0, start),
    text: doc.slice(start, end),
    suffix: doc.slice(end),
    languageId: 'python',
  };
  const time = async (f: () => Promise<unknown>): Promise<{ ms: number; passes: number }> => {
    const ms: number[] = [];
    let p = 0;
    for (let i = 0; i < runs; i++) {
      passes = 0;
      const t0 = performance.now();
      await f();
      ms.push(performance.now() - t0);
      p = passes;
    }
    return { ms: median(ms), passes: p };
  };
  console.log(
    `model ${engine.info.name}, ${runs} runs, ${values.threads} thread(s); region: body of word_counts`,
  );
  for (const groups of [1, 4, 8]) {
    const r = await time(() => scoreRegion(engine, { ...base, groups }));
    console.log(`score G=${groups}: ${r.passes} passes, median ${r.ms.toFixed(1)} ms`);
  }
  for (const threshold of [0, 0.01]) {
    const result = await refineRegion(engine, { ...base, threshold });
    const r = await time(() => refineRegion(engine, { ...base, threshold }));
    console.log(
      `refine threshold ${threshold}: ${result.doubtful.length} doubtful, ${result.remasked.length} re-masked, ${result.scorePasses} + ${result.denoisePasses} passes, median ${r.ms.toFixed(1)} ms`,
    );
  }
  const cursor = doc.indexOf('ranked = ');
  const lens = await scoreRegion(engine, {
    id: 1,
    prefix: doc.slice(0, cursor),
    text: '',
    suffix: doc.slice(cursor),
    languageId: 'python',
    enclosingFunction: true,
  });
  const lr = await time(() =>
    scoreRegion(engine, {
      id: 1,
      prefix: doc.slice(0, cursor),
      text: '',
      suffix: doc.slice(cursor),
      languageId: 'python',
      enclosingFunction: true,
    }),
  );
  console.log(
    `lens: ${lens.tokens.length} tokens (${lens.notes.join('; ')}), ${lr.passes} passes, median ${lr.ms.toFixed(1)} ms`,
  );
  const traced: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let i = 0; i < runs; i++) {
    for (const trace of [false, true]) {
      const t0 = performance.now();
      await engine.infill(
        {
          id: 1,
          prefix: base.prefix,
          suffix: base.suffix,
          canvasTokens: 48,
          languageId: 'python',
          trace,
          sampler: { strategy: 'sequential', blockSize: 0 },
        },
        { onSnapshot: () => undefined },
      );
      traced[trace ? 'on' : 'off'].push(performance.now() - t0);
    }
  }
  console.log(
    `infill 48 tokens, sequential, snapshot every step: trace off median ${median(traced.off).toFixed(1)} ms, on ${median(traced.on).toFixed(1)} ms`,
  );
  await engine.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
