// Batch infilling: JSONL tasks in, JSONL results out, through the same engine the editor uses.
// The evaluation commands build on runBatch (one task at a time, results in input order).
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import type { InfillEngine } from './engine';
import { toEngineError } from './errors';
import type { InfillRequest, InfillResult } from './protocol';

export interface BatchTask {
  task_id: string;
  prefix: string;
  suffix: string;
  /** Canvas length in tokens; otherwise sized from `selection` or the default canvas. */
  canvas_tokens?: number;
  /** Text the hole currently holds (sizes the canvas). */
  selection?: string;
  /** VS Code language id (parse-error remasking). */
  language?: string;
}

export interface BatchResult {
  task_id: string;
  completion: string;
  nfe: number;
  /** Batch rows evaluated (length search / candidates): >= nfe (absent from runners without batches). */
  nfe_rows?: number;
  /** Geometric-mean confidence of the completion, and whether it is below the unsure floor. */
  confidence?: number;
  unsure?: boolean;
  ms: number;
  steps: number;
  tokens: number;
  /** Set when the task failed; the batch goes on. */
  error?: string;
}

/** Request settings shared by every task of a batch (sampler, budgets, slack). */
export type BatchSettings = Omit<
  InfillRequest,
  'id' | 'prefix' | 'suffix' | 'selectionText' | 'canvasTokens' | 'languageId'
>;

export function parseTask(line: string, where: string): BatchTask {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  const t = raw as Record<string, unknown>;
  if (typeof t !== 'object' || t === null) {
    throw new Error(`${where}: a task must be a JSON object`);
  }
  if (typeof t.task_id !== 'string' && typeof t.task_id !== 'number') {
    throw new Error(`${where}: "task_id" must be a string`);
  }
  if (typeof t.prefix !== 'string' || typeof t.suffix !== 'string') {
    throw new Error(`${where}: "prefix" and "suffix" must be strings`);
  }
  if (t.canvas_tokens !== undefined && typeof t.canvas_tokens !== 'number') {
    throw new Error(`${where}: "canvas_tokens" must be a number`);
  }
  return {
    task_id: String(t.task_id),
    prefix: t.prefix,
    suffix: t.suffix,
    canvas_tokens: t.canvas_tokens as number | undefined,
    selection: typeof t.selection === 'string' ? t.selection : undefined,
    language: typeof t.language === 'string' ? t.language : undefined,
  };
}

export function taskRequest(task: BatchTask, settings: BatchSettings, id: number): InfillRequest {
  return {
    ...settings,
    id,
    prefix: task.prefix,
    suffix: task.suffix,
    selectionText: task.selection,
    canvasTokens: task.canvas_tokens,
    languageId: task.language,
  };
}

export async function runTask(
  engine: InfillEngine,
  task: BatchTask,
  settings: BatchSettings,
  id = 1,
): Promise<BatchResult> {
  try {
    const result: InfillResult = await engine.infill(taskRequest(task, settings, id));
    return {
      task_id: task.task_id,
      completion: result.completion,
      nfe: result.nfe,
      nfe_rows: result.nfeRows,
      confidence: result.confidence,
      unsure: result.unsure,
      ms: result.ms,
      steps: result.steps,
      tokens: result.tokens,
    };
  } catch (err) {
    const e = toEngineError(err);
    return {
      task_id: task.task_id,
      completion: '',
      nfe: 0,
      nfe_rows: 0,
      confidence: 0,
      unsure: true,
      ms: 0,
      steps: 0,
      tokens: 0,
      error: `${e.code}: ${e.message}`,
    };
  }
}

/** Runs tasks one after another, yielding each result as it is done. */
export async function* runBatch(
  engine: InfillEngine,
  tasks: Iterable<BatchTask> | AsyncIterable<BatchTask>,
  settings: BatchSettings,
): AsyncGenerator<BatchResult> {
  let id = 0;
  for await (const task of tasks) {
    yield await runTask(engine, task, settings, ++id);
  }
}

/** Reads tasks from a JSONL file (blank lines skipped). */
export async function* readTasks(file: string): AsyncGenerator<BatchTask> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim().length > 0) {
      yield parseTask(line, `${file}:${n}`);
    }
  }
}

export interface BatchSummary {
  tasks: number;
  failed: number;
  nfe: number;
  tokens: number;
  ms: number;
}

/** tasks.jsonl -> results.jsonl; `onResult` sees each result (progress output). */
export async function runBatchFile(
  engine: InfillEngine,
  inFile: string,
  outFile: string,
  settings: BatchSettings,
  onResult?: (result: BatchResult) => void,
): Promise<BatchSummary> {
  const out = fs.createWriteStream(outFile, 'utf8');
  const summary: BatchSummary = { tasks: 0, failed: 0, nfe: 0, tokens: 0, ms: 0 };
  try {
    for await (const result of runBatch(engine, readTasks(inFile), settings)) {
      out.write(JSON.stringify(result) + '\n');
      summary.tasks++;
      summary.failed += result.error ? 1 : 0;
      summary.nfe += result.nfe;
      summary.tokens += result.tokens;
      summary.ms += result.ms;
      onResult?.(result);
    }
  } finally {
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
  return summary;
}
