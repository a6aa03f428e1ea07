// `diffusion-infill eval ...`: the evaluation commands (wired into src/cli.ts with one line).
//   eval humaneval     HumanEval-Infilling, execution-scored pass@1
//   eval tasks FILE    any {task_id, prefix, suffix, reference, language?} JSONL: exact match, edit similarity
//   eval make-heldout  held-out tasks from the corpus validation split
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchSettings } from '../engine/batch';
import { InfillEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import {
  batchSettingsFromFlags,
  ENGINE_FLAGS,
  ENGINE_FLAGS_HELP,
  FlagError,
  loadOptionsFromFlags,
  type FlagValues,
} from '../engine/flags';
import { REQUEST_DEFAULTS } from '../engine/window';
import { resolveSamplerOptions } from '../engine/sampler/options';
import { modelFingerprint, ResultCache, settingsHash } from './cache';
import { engineRunner, EVAL_VERSION, summarize, type Summary, type TaskRecord } from './evaluate';
import { HELDOUT_DEFAULTS, makeHeldout, readHeldoutFiles } from './heldout';
import { canonicalRunner, humanEvalItems, runHumanEval } from './humaneval';
import {
  HUMANEVAL_SUBSETS,
  isSubset,
  loadHumanEval,
  spread,
  type HumanEvalSubset,
  type HumanEvalTask,
} from './humaneval-data';
import { DEFAULT_FIXED_TOKENS, isLengthMode, LENGTH_MODES, type LengthPolicy } from './length';
import { defaultCacheDir, DEFAULT_HUMANEVAL_DIR, humanEvalDir } from './paths';
import { machineInfo, machineLine, markdownTable, SUMMARY_HEADER, summaryRow } from './report';
import { defaultPython, sandboxInfo, type SandboxOptions } from './sandbox';
import { evaluate } from './evaluate';
import { readReferenceTasks, referenceItems } from './tasks';

export const EVAL_USAGE = `Usage:
  diffusion-infill eval humaneval --model DIR [--subset S] [--limit N] [options]
      HumanEval-Infilling, scored by execution (prompt + completion + suffix + test + check(entry_point)
      in a sandboxed python3 per task). Reports pass@1, exact match, forward passes, latency.
  diffusion-infill eval tasks FILE.jsonl --model DIR [--limit N] [options]
      Lines {task_id, prefix, suffix, reference, language?} (docs/eval-format.md); reports exact match
      (whitespace-normalised) and character edit similarity.
  diffusion-infill eval make-heldout --corpus build/corpus/files.jsonl --out build/heldout.jsonl [--n 200]
      Line-aligned holes from the corpus files with "split": "val" (seeded).

Evaluation options:
  --data DIR               HumanEval-Infilling folder (default ${DEFAULT_HUMANEVAL_DIR} from the repository root)
  --subset S               ${Object.keys(HUMANEVAL_SUBSETS).join(' | ')} (default single-line)
  --limit N                N tasks evenly spaced over the set (deterministic); default all
  --length MODE            canvas length: ${LENGTH_MODES.join(' | ')} (default selection: the reference's
                           tokens plus --canvas-slack; oracle: exactly the reference's tokens; fixed:
                           --canvas-tokens N, default ${DEFAULT_FIXED_TOKENS}, for every task)
  --cache FILE             per-task result cache, JSONL (default build/eval-cache/<benchmark>.jsonl);
                           a rerun with the same settings skips finished tasks
  --no-cache               run every task, keep nothing
  --out-json F             full report (settings, machine, summary, every task) as JSON
  --out-md F               the summary table as markdown
  --out F                  per-task records as JSONL (completions and scores)
  --label TEXT             row label in the table (default: strategy and length mode)
  --python BIN             interpreter for execution (default /usr/bin/python3 if present, else python3)
  --exec-timeout S         seconds per program before it is killed (default 10)
  --canonical              humaneval: score the canonical solutions instead of the model (checks the data
                           and the sandbox: every task should pass; no --model needed)
  --empty                  humaneval: score empty completions (the floor: lines the tests do not need)
  --quiet                  no progress on stderr
make-heldout options:
  --corpus F --out F --n N (default 200) --seed N (default ${HELDOUT_DEFAULTS.seed})
  --max-lines N (default ${HELDOUT_DEFAULTS.maxLines}) --max-chars N (default ${HELDOUT_DEFAULTS.maxChars})
  --min-chars N (default ${HELDOUT_DEFAULTS.minChars}) --languages a,b --split NAME (default ${HELDOUT_DEFAULTS.split})

${ENGINE_FLAGS_HELP}
`;

const EVAL_FLAGS = {
  ...ENGINE_FLAGS,
  data: { type: 'string' },
  subset: { type: 'string' },
  limit: { type: 'string' },
  length: { type: 'string' },
  cache: { type: 'string' },
  'no-cache': { type: 'boolean' },
  'out-json': { type: 'string' },
  'out-md': { type: 'string' },
  out: { type: 'string' },
  label: { type: 'string' },
  python: { type: 'string' },
  'exec-timeout': { type: 'string' },
  quiet: { type: 'boolean' },
  canonical: { type: 'boolean' },
  empty: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  corpus: { type: 'string' },
  n: { type: 'string' },
  'max-lines': { type: 'string' },
  'max-chars': { type: 'string' },
  'min-chars': { type: 'string' },
  languages: { type: 'string' },
  split: { type: 'string' },
} as const;

function intFlag(values: FlagValues, flag: string, fallback?: number): number | undefined {
  const v = values[flag];
  if (v === undefined) {
    return fallback;
  }
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 0) {
    throw new FlagError(`--${flag} needs a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return n;
}

function numFlag(values: FlagValues, flag: string, fallback: number): number {
  const v = values[flag];
  if (v === undefined) {
    return fallback;
  }
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n <= 0) {
    throw new FlagError(`--${flag} needs a positive number, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function lengthPolicyFromFlags(values: FlagValues): LengthPolicy {
  const fixedTokens = intFlag(values, 'canvas-tokens', DEFAULT_FIXED_TOKENS) ?? DEFAULT_FIXED_TOKENS;
  const mode = (values.length as string | undefined) ?? (values['canvas-tokens'] ? 'fixed' : 'selection');
  if (!isLengthMode(mode)) {
    throw new FlagError(`--length must be one of ${LENGTH_MODES.join(', ')}, got ${mode}`);
  }
  if (fixedTokens < 1) {
    throw new FlagError('--canvas-tokens must be at least 1');
  }
  return { mode, fixedTokens };
}

/** Everything that decides a task's result, resolved to full values (defaults included) for the hash. */
export function resolvedSettings(settings: BatchSettings, policy: LengthPolicy): Record<string, unknown> {
  return {
    sampler: resolveSamplerOptions(settings.sampler),
    prefixBudget: settings.prefixBudget ?? REQUEST_DEFAULTS.prefixBudget,
    suffixBudget: settings.suffixBudget ?? REQUEST_DEFAULTS.suffixBudget,
    canvasSlack: settings.canvasSlack ?? REQUEST_DEFAULTS.canvasSlack,
    canvasSlackMin: settings.canvasSlackMin ?? REQUEST_DEFAULTS.canvasSlackMin,
    length: policy.mode,
    ...(policy.mode === 'fixed' ? { fixedTokens: policy.fixedTokens } : {}),
  };
}

export function defaultLabel(settings: BatchSettings, policy: LengthPolicy): string {
  const s = resolveSamplerOptions(settings.sampler);
  const knob =
    s.strategy === 'threshold' || s.strategy === 'guarded'
      ? ` tau=${s.threshold}`
      : s.strategy === 'entropy-bounded'
        ? ` gamma=${s.entropyBound}`
        : ['confidence', 'margin', 'entropy'].includes(s.strategy)
          ? ` steps=${s.steps}`
          : '';
  return `${s.strategy}${knob}, ${policy.mode}${policy.mode === 'fixed' ? ` ${policy.fixedTokens}` : ''}`;
}

interface Outputs {
  report: Record<string, unknown>;
  records: TaskRecord[];
  summary: Summary;
  label: string;
}

function writeOutputs(values: FlagValues, out: Outputs): void {
  const md = markdownTable(SUMMARY_HEADER, [summaryRow(out.label, out.summary)]);
  process.stdout.write(md);
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, text);
  };
  if (typeof values['out-json'] === 'string') {
    write(values['out-json'], JSON.stringify({ ...out.report, tasks: out.records }, null, 1) + '\n');
  }
  if (typeof values['out-md'] === 'string') {
    const m = out.report.machine as ReturnType<typeof machineInfo>;
    write(
      values['out-md'],
      `${md}\n${out.report.title as string}; model ${(out.report.model as { name: string }).name}; machine: ${machineLine(m)}.\n\n\`${out.report.command as string}\`\n`,
    );
  }
  if (typeof values.out === 'string') {
    write(
      values.out,
      out.records.map((r) => JSON.stringify(r)).join('\n') + (out.records.length ? '\n' : ''),
    );
  }
}

function openCache(values: FlagValues, benchmark: string): ResultCache {
  if (values['no-cache']) {
    return new ResultCache(undefined);
  }
  const file =
    typeof values.cache === 'string' ? values.cache : path.join(defaultCacheDir(), `${benchmark}.jsonl`);
  return new ResultCache(file);
}

async function withEngine<T>(values: FlagValues, fn: (engine: InfillEngine) => Promise<T>): Promise<T> {
  const engine = await InfillEngine.load(loadOptionsFromFlags(values));
  try {
    return await fn(engine);
  } finally {
    await engine.dispose();
  }
}

function modelReport(engine: InfillEngine, fingerprint: string): Record<string, unknown> {
  return { ...engine.info, fingerprint };
}

async function humanevalCommand(values: FlagValues): Promise<number> {
  const subset = (values.subset as string | undefined) ?? 'single-line';
  if (!isSubset(subset)) {
    throw new FlagError(
      `--subset must be one of ${Object.keys(HUMANEVAL_SUBSETS).join(', ')}, got ${subset}`,
    );
  }
  const dataDir = humanEvalDir(values.data as string | undefined);
  const all = loadHumanEval(dataDir, subset as HumanEvalSubset);
  const selected = spread(all, intFlag(values, 'limit'));
  const settings = batchSettingsFromFlags(values);
  const policy = lengthPolicyFromFlags(values);
  const sandbox: SandboxOptions = {
    python: (values.python as string | undefined) ?? defaultPython(),
    timeoutMs: numFlag(values, 'exec-timeout', 10) * 1000,
  };
  const info = sandboxInfo(sandbox.python);
  if (info.note && !values.quiet) {
    process.stderr.write(`note: ${info.note}\n`);
  }
  const fingerprint =
    values.canonical || values.empty ? 'baseline' : modelFingerprint(loadOptionsFromFlags(values).modelDir);
  const resolved = resolvedSettings(settings, policy);
  const hash = settingsHash({
    eval: EVAL_VERSION,
    benchmark: `humaneval/${subset}`,
    model: fingerprint,
    settings: resolved,
    timeoutMs: sandbox.timeoutMs,
  });
  const cache = openCache(values, 'humaneval');
  const label = (values.label as string | undefined) ?? defaultLabel(settings, policy);
  if (values.canonical || values.empty) {
    return canonicalCheck(values, selected, all.length, subset, dataDir, sandbox);
  }
  return withEngine(values, async (engine) => {
    const items = humanEvalItems(selected, policy, engine.tokenizer);
    const records = await runHumanEval({
      items,
      run: engineRunner(engine, settings),
      hash,
      cache,
      label: `humaneval ${subset}`,
      sandbox,
      progress: values.quiet ? null : process.stderr,
    });
    const summary = summarize(records);
    const report = {
      title: `HumanEval-Infilling ${subset}, ${records.length} of ${all.length} tasks`,
      benchmark: 'humaneval',
      subset,
      data: dataDir,
      tasks_total: all.length,
      command: ['diffusion-infill', 'eval', ...process.argv.slice(3)].join(' '),
      created: new Date().toISOString(),
      model: modelReport(engine, fingerprint),
      settings: resolved,
      settings_hash: hash,
      sandbox: { ...info, timeout_ms: sandbox.timeoutMs },
      machine: machineInfo(),
      summary,
    };
    writeOutputs(values, { report, records, summary, label });
    return 0;
  });
}

/** The canonical solutions through the same scoring path: proves data and sandbox before a model run. */
async function canonicalCheck(
  values: FlagValues,
  selected: readonly HumanEvalTask[],
  total: number,
  subset: string,
  dataDir: string,
  sandbox: SandboxOptions,
): Promise<number> {
  const empty = values.empty === true;
  const what = empty ? 'empty completions' : 'canonical solutions';
  const policy: LengthPolicy = { mode: 'oracle', fixedTokens: DEFAULT_FIXED_TOKENS };
  const byId = new Map(selected.map((t) => [t.task_id, t]));
  const records = await runHumanEval({
    items: humanEvalItems(selected, policy, { encode: (text) => Array.from(text, (c) => c.length) }),
    run: canonicalRunner(byId, empty),
    hash: 'canonical',
    cache: new ResultCache(undefined),
    label: `humaneval ${subset} (${what})`,
    sandbox,
    progress: values.quiet ? null : process.stderr,
  });
  const summary = summarize(records);
  const report = {
    title: `HumanEval-Infilling ${subset}, ${what}, ${records.length} of ${total} tasks`,
    benchmark: 'humaneval',
    subset,
    data: dataDir,
    tasks_total: total,
    command: ['diffusion-infill', 'eval', ...process.argv.slice(3)].join(' '),
    created: new Date().toISOString(),
    model: { name: what },
    sandbox: { ...sandboxInfo(sandbox.python), timeout_ms: sandbox.timeoutMs },
    machine: machineInfo(),
    summary,
  };
  writeOutputs(values, { report, records, summary, label: what });
  if (empty) {
    return 0;
  }
  const failed = records.filter((r) => !r.passed);
  for (const r of failed.slice(0, 10)) {
    process.stderr.write(
      `canonical solution failed: ${r.task_id} (${r.exec_status})\n${r.stderr_tail ?? ''}\n`,
    );
  }
  return failed.length === 0 ? 0 : 1;
}

async function tasksCommand(file: string | undefined, values: FlagValues): Promise<number> {
  if (!file) {
    throw new FlagError('eval tasks needs a task file: eval tasks FILE.jsonl --model DIR');
  }
  const all = readReferenceTasks(file);
  const selected = spread(all, intFlag(values, 'limit'));
  const settings = batchSettingsFromFlags(values);
  const policy = lengthPolicyFromFlags(values);
  const fingerprint =
    values.canonical || values.empty ? 'baseline' : modelFingerprint(loadOptionsFromFlags(values).modelDir);
  const resolved = resolvedSettings(settings, policy);
  const hash = settingsHash({
    eval: EVAL_VERSION,
    benchmark: 'tasks',
    model: fingerprint,
    settings: resolved,
  });
  const cache = openCache(values, `tasks-${path.basename(file, '.jsonl')}`);
  const label = (values.label as string | undefined) ?? defaultLabel(settings, policy);
  return withEngine(values, async (engine) => {
    const records = await evaluate({
      items: referenceItems(selected, policy, engine.tokenizer),
      run: engineRunner(engine, settings),
      hash,
      cache,
      label: `tasks ${path.basename(file)}`,
      progress: values.quiet ? null : process.stderr,
    });
    const summary = summarize(records);
    const report = {
      title: `${path.basename(file)}, ${records.length} of ${all.length} tasks`,
      benchmark: 'tasks',
      file: path.resolve(file),
      tasks_total: all.length,
      command: ['diffusion-infill', 'eval', ...process.argv.slice(3)].join(' '),
      created: new Date().toISOString(),
      model: modelReport(engine, fingerprint),
      settings: resolved,
      settings_hash: hash,
      machine: machineInfo(),
      summary,
    };
    writeOutputs(values, { report, records, summary, label });
    return 0;
  });
}

function makeHeldoutCommand(values: FlagValues): number {
  const corpus = values.corpus;
  const out = values.out;
  if (typeof corpus !== 'string' || typeof out !== 'string') {
    throw new FlagError('eval make-heldout needs --corpus FILE and --out FILE');
  }
  const languages =
    typeof values.languages === 'string' ? values.languages.split(',').filter((l) => l.length > 0) : [];
  const split = (values.split as string | undefined) ?? HELDOUT_DEFAULTS.split;
  const files = readHeldoutFiles(corpus, split, languages);
  if (files.length === 0) {
    throw new Error(
      `${corpus}: no files with "split": "${split}"${languages.length ? ` in ${languages}` : ''}`,
    );
  }
  const n = intFlag(values, 'n', 200) ?? 200;
  const tasks = makeHeldout(files, {
    n,
    seed: intFlag(values, 'seed', HELDOUT_DEFAULTS.seed) ?? HELDOUT_DEFAULTS.seed,
    maxLines: intFlag(values, 'max-lines', HELDOUT_DEFAULTS.maxLines) ?? HELDOUT_DEFAULTS.maxLines,
    maxChars: intFlag(values, 'max-chars', HELDOUT_DEFAULTS.maxChars) ?? HELDOUT_DEFAULTS.maxChars,
    minChars: intFlag(values, 'min-chars', HELDOUT_DEFAULTS.minChars) ?? HELDOUT_DEFAULTS.minChars,
    languages,
    split,
  });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, tasks.map((t) => JSON.stringify(t)).join('\n') + (tasks.length ? '\n' : ''));
  const byLang = new Map<string, number>();
  for (const t of tasks) {
    byLang.set(t.language ?? '?', (byLang.get(t.language ?? '?') ?? 0) + 1);
  }
  process.stderr.write(
    `${tasks.length} held-out tasks from ${files.length} "${split}" files (${[...byLang].map(([l, k]) => `${l} ${k}`).join(', ')}) -> ${out}\n`,
  );
  if (tasks.length < n) {
    process.stderr.write(`note: asked for ${n}, the files gave ${tasks.length}\n`);
  }
  return 0;
}

/** Entry of `diffusion-infill eval ...`; returns the exit code (2 for usage errors). */
export async function runEval(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: EVAL_FLAGS,
      allowPositionals: true,
      strict: true,
    });
    const command = positionals[0];
    if (values.help || command === undefined || command === 'help') {
      process.stdout.write(EVAL_USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    if (command === 'humaneval') {
      return await humanevalCommand(values);
    }
    if (command === 'tasks') {
      return await tasksCommand(positionals[1], values);
    }
    if (command === 'make-heldout') {
      return makeHeldoutCommand(values);
    }
    throw new FlagError(`unknown eval command ${JSON.stringify(command)} (humaneval, tasks, make-heldout)`);
  } catch (err) {
    if (err instanceof EngineError) {
      process.stderr.write(`error (${err.code}): ${err.message}\n`);
      return 2;
    }
    if (
      err instanceof FlagError ||
      (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(
        `${(err as Error).message}\n\nRun "diffusion-infill eval --help" for the options.\n`,
      );
      return 2;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
