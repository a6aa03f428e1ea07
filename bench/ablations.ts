// Ablations in one command: every claim of the project as one switch changed, same model compute.
//   corruption: structure-aware model (models/default) vs uniform-corruption model (models/uniform)
//   decoding:   confidence top-k vs threshold tau vs entropy-bounded gamma vs guarded, several speeds each,
//               against one-token-per-step (sequential) decoding: quality vs forward passes per token
//   canvas:     fixed length vs selection-based (+slack) vs oracle (true length)
// Quality: held-out exact match and edit similarity (corpus validation split, `eval make-heldout`) and
// HumanEval-Infilling single-line pass@1 on an evenly spaced subset (execution-scored, sandboxed).
// Results are cached per task (build/eval-cache/ablations.jsonl): a rerun resumes.
//
//   npm run compile
//   node out/bench/ablations.js [--limit 50] [--he-limit 50] [--models default=models/default,uniform=models/uniform]
//        [--heldout build/heldout.jsonl] [--corpus build/corpus/files.jsonl] [--only corruption,decoding,length]
//        [--grid full|quick] [--eval-subsets multi-line,random-span-light|none] [--max-minutes M]
//        [--threads N] [--no-write]
// --note TEXT: a line added to the report (e.g. that a rerun took its tasks from the cache).
// --max-minutes: no new configuration starts once it would end past M minutes (the report lists the skipped).
// --eval-subsets: the default configuration also runs on these HumanEval-Infilling subsets (--he-limit
// tasks each) for the "Evaluation" table.
// Writes bench/results/ablations.json, bench/results/decoding-frontier.png (through bench/plot.py) and the
// "## Evaluation" and "## Ablations" sections of BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchSettings } from '../src/engine/batch';
import { InfillEngine } from '../src/engine/engine';
import type { SamplerOptions } from '../src/engine/protocol';
import { modelFingerprint, ResultCache, settingsHash } from '../src/eval/cache';
import { resolvedSettings } from '../src/eval/cli';
import { engineRunner, evaluate, EVAL_VERSION, summarize, type Summary } from '../src/eval/evaluate';
import { HELDOUT_DEFAULTS, makeHeldout, readHeldoutFiles } from '../src/eval/heldout';
import { canonicalRunner, humanEvalItems, runHumanEval } from '../src/eval/humaneval';
import { isSubset, loadHumanEval, spread, type HumanEvalSubset } from '../src/eval/humaneval-data';
import { DEFAULT_FIXED_TOKENS, type LengthPolicy } from '../src/eval/length';
import { defaultCacheDir, humanEvalDir, repoRoot } from '../src/eval/paths';
import { formatDuration } from '../src/eval/progress';
import { fixed, machineInfo, machineLine, markdownTable, pct, writeSection } from '../src/eval/report';
import { defaultPython, sandboxInfo, type SandboxOptions } from '../src/eval/sandbox';
import { readReferenceTasks, referenceItems } from '../src/eval/tasks';

type Group = 'corruption' | 'decoding' | 'length';

interface Config {
  group: Group;
  label: string;
  model: string; // key into the models map
  sampler: Partial<SamplerOptions>;
  policy: LengthPolicy;
  /** For the plot: the strategy family and its speed knob. */
  family: string;
  knob?: string;
}

interface Row extends Config {
  heldout?: Summary;
  humaneval?: Summary;
  wall_s: number;
}

const SELECTION: LengthPolicy = { mode: 'selection', fixedTokens: DEFAULT_FIXED_TOKENS };

function configs(grid: 'full' | 'quick', groups: readonly Group[], hasUniform: boolean): Config[] {
  const out: Config[] = [];
  const dec = (family: string, sampler: Partial<SamplerOptions>, knob?: string): Config => ({
    group: 'decoding',
    label: knob ? `${family} ${knob}` : family,
    model: 'default',
    sampler: { strategy: family as SamplerOptions['strategy'], ...sampler },
    policy: SELECTION,
    family,
    knob,
  });
  const guardedDefault = (group: Group, model: string, policy: LengthPolicy, label: string): Config => ({
    group,
    label,
    model,
    sampler: { strategy: 'guarded' },
    policy,
    family: 'guarded',
    knob: 'tau=0.9',
  });
  if (groups.includes('corruption')) {
    out.push(guardedDefault('corruption', 'default', SELECTION, 'structure-aware (models/default)'));
    if (hasUniform) {
      out.push(guardedDefault('corruption', 'uniform', SELECTION, 'uniform (models/uniform)'));
    }
  }
  if (groups.includes('length')) {
    out.push(
      guardedDefault(
        'length',
        'default',
        { mode: 'fixed', fixedTokens: DEFAULT_FIXED_TOKENS },
        `fixed ${DEFAULT_FIXED_TOKENS} tokens`,
      ),
    );
    out.push(guardedDefault('length', 'default', SELECTION, 'selection (+25% +4)'));
    out.push(
      guardedDefault(
        'length',
        'default',
        { mode: 'oracle', fixedTokens: DEFAULT_FIXED_TOKENS },
        'oracle (true length)',
      ),
    );
  }
  // Decoding last: the corruption and length rows (and the guarded tau=0.9 row they share) come first.
  if (groups.includes('decoding')) {
    out.push(dec('sequential', {}));
    // The quick grid first (two speeds per family), then the rest of the full grid: a run cut short by
    // --max-minutes still covers every family.
    const quick: [string, keyof SamplerOptions, number[], number[], string][] = [
      ['confidence', 'steps', [4, 16], [8], 'steps'],
      ['threshold', 'threshold', [0.7, 0.9], [0.5, 0.97], 'tau'],
      ['entropy-bounded', 'entropyBound', [0.5, 2], [0.1, 1], 'gamma'],
      ['guarded', 'threshold', [0.7, 0.9], [0.97], 'tau'],
    ];
    for (const pass of grid === 'full' ? [0, 1] : [0]) {
      for (const [family, key, first, rest, name] of quick) {
        for (const v of (pass === 0 ? first : rest).sort((a, b) => a - b)) {
          out.push(dec(family, { [key]: v }, `${name}=${v}`));
        }
      }
    }
  }
  return out;
}

function parseModels(spec: string, root: string): Map<string, string> {
  const models = new Map<string, string>();
  for (const part of spec.split(',')) {
    const [name, dir] = part.split('=');
    if (!name || !dir) {
      throw new Error(`--models takes name=DIR,name=DIR, got ${spec}`);
    }
    models.set(name, path.resolve(root, dir));
  }
  return models;
}

async function main(): Promise<number> {
  const root = repoRoot();
  const { values } = parseArgs({
    options: {
      limit: { type: 'string' },
      'he-limit': { type: 'string' },
      models: { type: 'string' },
      heldout: { type: 'string' },
      corpus: { type: 'string' },
      data: { type: 'string' },
      only: { type: 'string' },
      grid: { type: 'string' },
      threads: { type: 'string' },
      cache: { type: 'string' },
      out: { type: 'string' },
      plot: { type: 'string' },
      'benchmarks-md': { type: 'string' },
      'no-write': { type: 'boolean' },
      'exec-timeout': { type: 'string' },
      'eval-subsets': { type: 'string' },
      'max-minutes': { type: 'string' },
      note: { type: 'string' },
    },
  });
  const budgetS = values['max-minutes'] === undefined ? Infinity : Number(values['max-minutes']) * 60;
  const limit = Number(values.limit ?? 50);
  const heLimit = Number(values['he-limit'] ?? limit);
  const grid = (values.grid ?? 'full') as 'full' | 'quick';
  const groups = (values.only ?? 'corruption,decoding,length').split(',') as Group[];
  const models = parseModels(values.models ?? 'default=models/default,uniform=models/uniform', root);
  const threads = Number(values.threads ?? 0);
  const outJson = path.resolve(root, values.out ?? 'bench/results/ablations.json');
  const plotFile = path.resolve(root, values.plot ?? 'bench/results/decoding-frontier.png');
  const benchmarksMd = path.resolve(root, values['benchmarks-md'] ?? 'BENCHMARKS.md');
  if (!models.has('default') || !fs.existsSync(path.join(models.get('default')!, 'model.json'))) {
    throw new Error(`no default model at ${models.get('default')} (pass --models default=DIR[,uniform=DIR])`);
  }
  const hasUniform = models.has('uniform') && fs.existsSync(path.join(models.get('uniform')!, 'model.json'));
  if (groups.includes('corruption') && !hasUniform) {
    process.stderr.write(
      `note: no uniform model (${models.get('uniform') ?? 'not given'}): corruption ablation has one row\n`,
    );
  }

  // Held-out tasks: the file if it exists, else built from the corpus validation split (seeded).
  const heldoutFile = path.resolve(root, values.heldout ?? 'build/heldout.jsonl');
  if (!fs.existsSync(heldoutFile)) {
    const corpus = path.resolve(root, values.corpus ?? 'build/corpus/files.jsonl');
    const tasks = makeHeldout(readHeldoutFiles(corpus), { ...HELDOUT_DEFAULTS, n: 200 });
    fs.mkdirSync(path.dirname(heldoutFile), { recursive: true });
    fs.writeFileSync(heldoutFile, tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
    process.stderr.write(`built ${tasks.length} held-out tasks from ${corpus} -> ${heldoutFile}\n`);
  }
  const heldoutAll = readReferenceTasks(heldoutFile);
  const heldout = spread(heldoutAll, limit);
  const heAll = loadHumanEval(humanEvalDir(values.data, root), 'single-line');
  const he = spread(heAll, heLimit);
  const sandbox: SandboxOptions = {
    python: defaultPython(),
    timeoutMs: Number(values['exec-timeout'] ?? 10) * 1000,
  };
  const cache = new ResultCache(
    path.resolve(root, values.cache ?? path.join(defaultCacheDir(root), 'ablations.jsonl')),
  );

  const evalSubsets = (values['eval-subsets'] ?? 'multi-line,random-span-light')
    .split(',')
    .filter((x) => x.length > 0 && x !== 'none' && x !== 'single-line');
  for (const subset of evalSubsets) {
    if (!isSubset(subset)) {
      throw new Error(`--eval-subsets: unknown subset ${subset}`);
    }
  }
  const list = configs(grid, groups, hasUniform);
  const engines = new Map<string, InfillEngine>();
  const fingerprints = new Map<string, string>();
  const machine = machineInfo();
  const rows: Row[] = [];
  const subsetRows: SubsetRow[] = [];
  const skipped: string[] = [];
  let floor: Summary | undefined;
  let floorPassing: string[] = [];
  const t0 = performance.now();
  process.stderr.write(
    `${list.length} configurations x (${heldout.length} held-out + ${he.length} HumanEval single-line) tasks; machine: ${machineLine(machine)}\n`,
  );
  try {
    for (const [i, config] of list.entries()) {
      const dir = models.get(config.model)!;
      if (!fingerprints.has(config.model)) {
        fingerprints.set(config.model, modelFingerprint(dir));
      }
      const settings: BatchSettings = { sampler: config.sampler };
      const resolved = resolvedSettings(settings, config.policy);
      const model = fingerprints.get(config.model)!;
      const heldoutHash = settingsHash({ eval: EVAL_VERSION, benchmark: 'tasks', model, settings: resolved });
      const heHash = settingsHash({
        eval: EVAL_VERSION,
        benchmark: 'humaneval/single-line',
        model,
        settings: resolved,
        timeoutMs: sandbox.timeoutMs,
      });
      const allCached =
        heldout.every((t) => cache.get(heldoutHash, t.task_id) !== undefined) &&
        he.every((t) => cache.get(heHash, t.task_id) !== undefined);
      const elapsedS = (performance.now() - t0) / 1000;
      const ran = rows.filter((r) => r.wall_s > 1);
      const typicalS = ran.length > 0 ? ran.reduce((a, r) => a + r.wall_s, 0) / ran.length : 0;
      if (!allCached && elapsedS + typicalS > budgetS) {
        skipped.push(config.label);
        process.stderr.write(`[${i + 1}/${list.length}] ${config.label}: skipped (--max-minutes)\n`);
        continue;
      }
      let engine = engines.get(config.model);
      if (!engine) {
        engine = await InfillEngine.load({ modelDir: dir, executionProvider: 'cpu', threads });
        engines.set(config.model, engine);
      }
      const c0 = performance.now();
      const tag = `[${i + 1}/${list.length}] ${config.group}: ${config.label}`;
      const heldoutRecords = await evaluate({
        items: referenceItems(heldout, config.policy, engine.tokenizer),
        run: engineRunner(engine, settings),
        hash: heldoutHash,
        cache,
        label: `${tag} held-out`,
        progressIntervalMs: 15_000,
      });
      const heRecords = await runHumanEval({
        items: humanEvalItems(he, config.policy, engine.tokenizer),
        run: engineRunner(engine, settings),
        hash: heHash,
        cache,
        label: `${tag} humaneval`,
        sandbox,
      });
      const wall = (performance.now() - c0) / 1000;
      rows.push({
        ...config,
        heldout: summarize(heldoutRecords),
        humaneval: summarize(heRecords),
        wall_s: Math.round(wall),
      });
      const elapsed = (performance.now() - t0) / 1000;
      process.stderr.write(
        `${tag}: done in ${formatDuration(wall)}; about ${formatDuration((elapsed / (i + 1)) * (list.length - i - 1))} left\n`,
      );
    }
    // The headline configuration on the other HumanEval-Infilling subsets (Evaluation section).
    for (const subset of evalSubsets as HumanEvalSubset[]) {
      if ((performance.now() - t0) / 1000 > budgetS) {
        skipped.push(`evaluation: humaneval ${subset}`);
        continue;
      }
      const engine = engines.get('default')!;
      const all = loadHumanEval(humanEvalDir(values.data, root), subset);
      const tasks = spread(all, heLimit);
      const resolved = resolvedSettings({ sampler: { strategy: 'guarded' } }, SELECTION);
      const records = await runHumanEval({
        items: humanEvalItems(tasks, SELECTION, engine.tokenizer),
        run: engineRunner(engine, { sampler: { strategy: 'guarded' } }),
        hash: settingsHash({
          eval: EVAL_VERSION,
          benchmark: `humaneval/${subset}`,
          model: fingerprints.get('default')!,
          settings: resolved,
          timeoutMs: sandbox.timeoutMs,
        }),
        cache,
        label: `[evaluation] humaneval ${subset}`,
        sandbox,
      });
      subsetRows.push({ subset, total: all.length, summary: summarize(records) });
    }
    // The floor: empty completions on the same HumanEval tasks (lines the tests do not need pass).
    const floorRecords = await runHumanEval({
      items: humanEvalItems(he, SELECTION, { encode: () => [] }),
      run: canonicalRunner(new Map(he.map((t) => [t.task_id, t])), true),
      hash: settingsHash({
        eval: EVAL_VERSION,
        benchmark: 'humaneval/single-line',
        empty: true,
        timeoutMs: sandbox.timeoutMs,
      }),
      cache,
      label: '[floor] humaneval single-line, empty completions',
      sandbox,
    });
    floor = summarize(floorRecords);
    floorPassing = floorRecords.filter((r) => r.passed).map((r) => r.task_id);
  } finally {
    for (const e of engines.values()) {
      await e.dispose();
    }
  }

  const modelInfo = Object.fromEntries(
    [...engines.entries()].map(([k, e]) => [
      k,
      { name: e.info.name, dir: path.relative(root, e.info.modelDir), fingerprint: fingerprints.get(k) },
    ]),
  );
  const argv = process.argv.slice(2);
  const noteAt = argv.indexOf('--note');
  const shown = noteAt >= 0 ? [...argv.slice(0, noteAt), ...argv.slice(noteAt + 2)] : argv;
  const command = `node out/bench/ablations.js ${shown.join(' ')}`.trim();
  const result = {
    created: new Date().toISOString(),
    command,
    machine,
    models: modelInfo,
    heldout: { file: path.relative(root, heldoutFile), used: heldout.length, total: heldoutAll.length },
    humaneval: {
      subset: 'single-line',
      used: he.length,
      total: heAll.length,
      sandbox: sandboxInfo(sandbox.python),
    },
    wall_s: Math.round((performance.now() - t0) / 1000),
    rows,
    subsets: subsetRows,
    skipped,
    note: values.note,
    floor: floor ? { pass_at_1: floor.pass_at_1, n: floor.n, passing: floorPassing } : undefined,
  };
  fs.mkdirSync(path.dirname(outJson), { recursive: true });
  fs.writeFileSync(outJson, JSON.stringify(result, null, 1) + '\n');

  const sections = renderSections(result, path.relative(root, plotFile));
  process.stdout.write(`${sections.evaluation}\n${sections.ablations}`);
  const plotted = spawnSync(
    '/usr/bin/python3',
    [path.join(root, 'bench', 'plot.py'), 'ablations', outJson, plotFile],
    {
      encoding: 'utf8',
    },
  );
  if (plotted.status !== 0) {
    process.stderr.write(`plot failed (bench/plot.py): ${plotted.stderr || plotted.error?.message}\n`);
  } else {
    process.stderr.write(`plot -> ${plotFile}\n`);
  }
  if (!values['no-write']) {
    writeSection(benchmarksMd, 'Evaluation', sections.evaluation);
    writeSection(benchmarksMd, 'Ablations', sections.ablations);
    process.stderr.write(`results -> ${outJson}; sections "Evaluation" and "Ablations" -> ${benchmarksMd}\n`);
  }
  return 0;
}

type Result = {
  created: string;
  command: string;
  machine: ReturnType<typeof machineInfo>;
  models: Record<string, { name: string; dir: string; fingerprint?: string }>;
  heldout: { file: string; used: number; total: number };
  humaneval: { used: number; total: number };
  wall_s: number;
  rows: Row[];
  subsets: SubsetRow[];
  skipped: string[];
  floor?: { pass_at_1?: number; n: number; passing: string[] };
  note?: string;
};

interface SubsetRow {
  subset: string;
  total: number;
  summary: Summary;
}

const HEADER = [
  'setting',
  'held-out exact %',
  'held-out edit sim',
  'HumanEval SL pass@1 %',
  'HumanEval SL exact %',
  'NFE / token',
  'NFE / task',
  'latency p50 ms',
];

function cells(r: Row): string[] {
  const h = r.heldout!;
  const e = r.humaneval!;
  // NFE per committed token and latency over both task sets together.
  const nfe = (h.nfe_mean * h.n + e.nfe_mean * e.n) / Math.max(1, h.n + e.n);
  const tokens = (h.tokens_mean * h.n + e.tokens_mean * e.n) / Math.max(1, h.n + e.n);
  return [
    r.label,
    pct(h.exact_match),
    fixed(h.edit_similarity, 3),
    pct(e.pass_at_1),
    pct(e.exact_match),
    fixed(tokens > 0 ? nfe / tokens : NaN, 3),
    fixed(nfe, 1),
    fixed(h.latency_ms.median, 0),
  ];
}

export function renderSections(result: Result, plotPath: string): { evaluation: string; ablations: string } {
  const d = result.models.default;
  const u = result.models.uniform;
  const setup =
    `Machine: ${machineLine(result.machine)}. CPU execution provider; GPU: none this session (CUDA numbers pending).\n` +
    `Held-out: ${result.heldout.used} of ${result.heldout.total} tasks of \`${result.heldout.file}\` (line-aligned holes from the corpus validation split, ` +
    `\`eval make-heldout\`, seed ${HELDOUT_DEFAULTS.seed}); HumanEval-Infilling single-line: ${result.humaneval.used} of ${result.humaneval.total} tasks, ` +
    `evenly spaced, execution-scored in a sandboxed python3 (no network, 10 s limit). Small subsets: differences of a few points are within noise ` +
    `(binomial standard error at n = 50 and p = 0.3 is about 6.5 points).\n` +
    `Models: default = ${d?.name ?? '?'} (\`${d?.dir ?? '?'}\`, ${d?.fingerprint ?? ''})${u ? `, uniform = ${u.name} (\`${u.dir}\`, ${u.fingerprint ?? ''})` : ''}.\n` +
    `Command: \`${result.command}\` (${formatDuration(result.wall_s)} wall; results in \`bench/results/ablations.json\`).\n` +
    (result.note ? `${result.note}\n` : '') +
    (result.skipped.length > 0 ? `Not run within the time budget: ${result.skipped.join('; ')}.\n` : '') +
    (result.floor
      ? `Floor: empty completions pass ${pct(result.floor.pass_at_1)} % of the same ${result.floor.n} HumanEval single-line tasks` +
        (result.floor.passing.length > 0
          ? ` (${result.floor.passing.join(', ')}: the tests do not need that line)`
          : '') +
        '; a pass@1 at the floor means nothing was solved.\n'
      : '') +
    'Latency is wall time on the shared 2-core machine (other jobs were running): rows with identical work (same NFE) ' +
    'differ by up to about 1.7x, so compare NFE / token for speed and treat ms as indicative.\n';
  const byGroup = (g: Group) => result.rows.filter((r) => r.group === g);
  const headline =
    result.rows.find((r) => r.group === 'corruption' && r.model === 'default') ??
    result.rows.find((r) => r.family === 'guarded' && r.policy.mode === 'selection');
  let evaluation = '';
  if (headline) {
    evaluation +=
      `Default settings (guarded decoding, tau 0.9, canvas = selection + 25% + 4 tokens) on ${d?.name ?? 'the default model'}:\n\n` +
      markdownTable(HEADER, [
        cells({ ...headline, label: `${d?.name ?? 'default'}: guarded tau=0.9, selection canvas` }),
      ]) +
      '\n' +
      (result.subsets.length > 0
        ? 'Same settings on the other HumanEval-Infilling subsets (evenly spaced subsets; canvas sized from the canonical solution):\n\n' +
          markdownTable(
            [
              'subset',
              'tasks',
              'pass@1 %',
              'exact %',
              'edit sim',
              'NFE / task',
              'NFE / token',
              'latency p50 ms',
              'latency p90 ms',
            ],
            [
              ['single-line', headline.humaneval!, result.humaneval.total] as const,
              ...result.subsets.map((s) => [s.subset, s.summary, s.total] as const),
            ].map(([name, s, total]) => [
              name,
              `${s.n} of ${total}`,
              pct(s.pass_at_1),
              pct(s.exact_match),
              fixed(s.edit_similarity, 3),
              fixed(s.nfe_mean, 1),
              fixed(s.nfe_per_token, 3),
              fixed(s.latency_ms.median, 0),
              fixed(s.latency_ms.p90, 0),
            ]),
          ) +
          '\n'
        : '') +
      setup +
      '\nRerun any row with the eval CLI, for example:\n\n' +
      '```\n' +
      `node dist/cli.js eval humaneval --model ${d?.dir ?? 'models/default'} --subset single-line --limit ${result.humaneval.used}\n` +
      `node dist/cli.js eval tasks ${result.heldout.file} --model ${d?.dir ?? 'models/default'} --limit ${result.heldout.used}\n` +
      '```\n';
  }
  let ablations = setup + '\n';
  const corruption = byGroup('corruption');
  if (corruption.length > 0) {
    ablations +=
      '### Corruption: structure-aware vs uniform (same compute, guarded decoding, selection canvas)\n\n' +
      markdownTable(HEADER, corruption.map(cells)) +
      (corruption.length < 2 ? '\nThe uniform-corruption model was not available for this run.\n' : '') +
      '\n';
  }
  const families = ['sequential', 'confidence', 'threshold', 'entropy-bounded', 'guarded'];
  const knobValue = (r: Row) => Number((r.knob ?? '=0').split('=')[1]);
  const decoding = byGroup('decoding').sort(
    (a, b) => families.indexOf(a.family) - families.indexOf(b.family) || knobValue(a) - knobValue(b),
  );
  if (decoding.length > 0) {
    ablations +=
      '### Decoding: quality vs forward passes per committed token (default model, selection canvas)\n\n' +
      'Sequential = one token per forward pass, most confident first (the quality reference). ' +
      'Lower NFE / token is faster; the frontier plot is below.\n\n' +
      markdownTable(HEADER, decoding.map(cells)) +
      `\n![decoding frontier](${plotPath})\n\n`;
  }
  const length = byGroup('length');
  if (length.length > 0) {
    ablations +=
      '### Canvas length: fixed vs selection-based vs oracle (default model, guarded decoding)\n\n' +
      markdownTable(HEADER, length.map(cells)) +
      '\n';
  }
  return { evaluation, ablations };
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
