// The evaluation loop shared by every benchmark: for each item, take the cached record of these exact
// settings or run the engine on it, score the completion, append the record to the cache; then
// summarise. Items run one at a time (the engine is one model on a CPU); scoring by execution of one
// task overlaps the inference of the next.
import type { BatchResult, BatchSettings, BatchTask } from '../engine/batch';
import { runTask } from '../engine/batch';
import type { InfillEngine } from '../engine/engine';
import { ResultCache } from './cache';
import { editSimilarity, exactMatch, mean, median, quantile, round } from './metrics';
import { Progress, type ProgressSink } from './progress';
import type { ExecStatus } from './sandbox';

/** Bumped whenever scoring or task construction changes, so older cached records are not reused. */
export const EVAL_VERSION = 1;

/** One scored task. */
export interface TaskRecord {
  task_id: string;
  completion: string;
  /** Forward passes (network function evaluations). */
  nfe: number;
  /** Batch rows evaluated (length search, candidates); absent in records from before it existed. */
  nfe_rows?: number;
  /** The engine reported the completion as unsure. */
  unsure?: boolean;
  steps: number;
  /** Committed non-end tokens of the completion. */
  tokens: number;
  /** Engine latency of the infill (request to result). */
  ms: number;
  /** Canvas tokens requested (oracle / fixed); absent when sized from the selection. */
  canvas_tokens?: number;
  /** Exact match with the reference after whitespace normalisation. */
  exact: boolean;
  /** 1 - levenshtein / max length against the reference. */
  edit_sim: number;
  /** Execution-scored benchmarks only. */
  passed?: boolean;
  exec_status?: ExecStatus;
  exec_ms?: number;
  /** Last lines of the program's stderr when it failed (capped). */
  stderr_tail?: string;
  /** The engine failed on this task (counts as not passed / no match). */
  error?: string;
}

export type RunTaskFn = (task: BatchTask) => Promise<BatchResult>;

export function engineRunner(engine: InfillEngine, settings: BatchSettings): RunTaskFn {
  let id = 0;
  return (task) => runTask(engine, task, settings, ++id);
}

export interface EvalItem {
  task: BatchTask;
  reference: string;
}

export interface EvaluateOptions<I extends EvalItem> {
  items: readonly I[];
  run: RunTaskFn;
  hash: string;
  cache: ResultCache;
  label: string;
  /** Extra scoring (execution); runs while the next item is being inferred. */
  score?: (item: I, completion: string) => Promise<Partial<TaskRecord>>;
  /** Where progress goes: default stderr; null = silent. */
  progress?: ProgressSink | null;
  progressIntervalMs?: number;
}

function statusLine(records: readonly TaskRecord[]): string {
  const n = records.length;
  const executed = records.filter((r) => r.passed !== undefined);
  const pct = (k: number, d: number) => (d > 0 ? `${((100 * k) / d).toFixed(1)}%` : '-');
  const parts: string[] = [];
  if (executed.length > 0) {
    parts.push(`pass@1 ${pct(executed.filter((r) => r.passed).length, executed.length)}`);
  }
  parts.push(`exact ${pct(records.filter((r) => r.exact).length, n)}`);
  return parts.join(', ');
}

export async function evaluate<I extends EvalItem>(options: EvaluateOptions<I>): Promise<TaskRecord[]> {
  const { items, run, hash, cache, score } = options;
  const progress = new Progress(
    options.label,
    items.length,
    options.progress === undefined ? process.stderr : options.progress,
    options.progressIntervalMs,
  );
  const records: TaskRecord[] = new Array<TaskRecord>(items.length);
  const done: TaskRecord[] = [];
  let pending: Promise<void> = Promise.resolve();
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const cached = cache.get<TaskRecord>(hash, item.task.task_id);
    if (cached) {
      await pending;
      records[i] = cached;
      done.push(cached);
      progress.tick(true, statusLine(done));
      continue;
    }
    const result = await run(item.task);
    const base: TaskRecord = {
      task_id: item.task.task_id,
      completion: result.completion,
      nfe: result.nfe,
      ...(result.nfe_rows !== undefined ? { nfe_rows: result.nfe_rows } : {}),
      ...(result.unsure !== undefined ? { unsure: result.unsure } : {}),
      steps: result.steps,
      tokens: result.tokens,
      ms: result.ms,
      ...(item.task.canvas_tokens !== undefined ? { canvas_tokens: item.task.canvas_tokens } : {}),
      exact: !result.error && exactMatch(result.completion, item.reference),
      edit_sim: result.error ? 0 : round(editSimilarity(result.completion, item.reference)),
      ...(result.error ? { error: result.error } : {}),
    };
    await pending; // the previous item's execution finishes before this one's starts (one python at a time)
    pending = (async () => {
      const extra = score ? await score(item, result.completion) : {};
      const record: TaskRecord = { ...base, ...extra };
      if (record.error && record.passed) {
        record.passed = false;
      }
      cache.put(hash, record);
      records[i] = record;
      done.push(record);
      progress.tick(false, statusLine(done));
    })();
  }
  await pending;
  return records;
}

export interface Summary {
  n: number;
  /** Fraction of tasks whose program passed its tests (execution-scored benchmarks). */
  pass_at_1?: number;
  exact_match: number;
  edit_similarity: number;
  nfe_mean: number;
  nfe_median: number;
  /** Sum of forward passes over sum of committed tokens: forward passes per committed token. */
  nfe_per_token: number;
  tokens_mean: number;
  latency_ms: { median: number; p90: number; mean: number };
  errors: number;
  exec_status?: Partial<Record<ExecStatus, number>>;
}

export function summarize(records: readonly TaskRecord[]): Summary {
  const n = records.length;
  const nfe = records.map((r) => r.nfe);
  const ms = records.map((r) => r.ms);
  const tokens = records.reduce((s, r) => s + r.tokens, 0);
  const executed = records.filter((r) => r.passed !== undefined);
  const summary: Summary = {
    n,
    exact_match: round(n > 0 ? records.filter((r) => r.exact).length / n : NaN),
    edit_similarity: round(mean(records.map((r) => r.edit_sim))),
    nfe_mean: round(mean(nfe), 2),
    nfe_median: median(nfe),
    nfe_per_token: round(tokens > 0 ? nfe.reduce((s, v) => s + v, 0) / tokens : NaN),
    tokens_mean: round(mean(records.map((r) => r.tokens)), 2),
    latency_ms: { median: round(median(ms), 1), p90: round(quantile(ms, 0.9), 1), mean: round(mean(ms), 1) },
    errors: records.filter((r) => r.error !== undefined).length,
  };
  if (executed.length > 0) {
    summary.pass_at_1 = round(executed.filter((r) => r.passed).length / executed.length);
    const counts: Partial<Record<ExecStatus, number>> = {};
    for (const r of executed) {
      const s = r.exec_status ?? 'error';
      counts[s] = (counts[s] ?? 0) + 1;
    }
    summary.exec_status = counts;
  }
  return summary;
}
