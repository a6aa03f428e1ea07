// HumanEval-Infilling (openai/human-eval-infilling) as published: one gzip-compressed JSONL file per
// subset, each line {task_id, entry_point, prompt, suffix, canonical_solution, test}.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export const HUMANEVAL_SUBSETS = {
  'single-line': 'HumanEval-SingleLineInfilling.jsonl.gz',
  'multi-line': 'HumanEval-MultiLineInfilling.jsonl.gz',
  'random-span-light': 'HumanEval-RandomSpanInfillingLight.jsonl.gz',
  'random-span': 'HumanEval-RandomSpanInfilling.jsonl.gz',
} as const;

export type HumanEvalSubset = keyof typeof HUMANEVAL_SUBSETS;

export function isSubset(name: string): name is HumanEvalSubset {
  return Object.prototype.hasOwnProperty.call(HUMANEVAL_SUBSETS, name);
}

export interface HumanEvalTask {
  task_id: string;
  entry_point: string;
  prompt: string;
  suffix: string;
  canonical_solution: string;
  test: string;
}

export function subsetFile(dir: string, subset: HumanEvalSubset): string {
  return path.join(dir, HUMANEVAL_SUBSETS[subset]);
}

/** Reads one subset; a missing folder or file is an error that says where it looked. */
export function loadHumanEval(dir: string, subset: HumanEvalSubset): HumanEvalTask[] {
  const file = subsetFile(dir, subset);
  if (!fs.existsSync(file)) {
    throw new Error(
      `HumanEval-Infilling data not found: ${file} (pass --data DIR, the folder with the published ${HUMANEVAL_SUBSETS[subset]})`,
    );
  }
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  const tasks: HumanEvalTask[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim().length === 0) {
      return;
    }
    const t = JSON.parse(line) as Record<string, unknown>;
    for (const key of ['task_id', 'entry_point', 'prompt', 'suffix', 'canonical_solution', 'test']) {
      if (typeof t[key] !== 'string') {
        throw new Error(`${file}:${i + 1}: field "${key}" must be a string`);
      }
    }
    tasks.push(t as unknown as HumanEvalTask);
  });
  return tasks;
}

/** The program the official harness runs: prompt + completion + suffix, the test, check(entry_point). */
export function checkProgram(task: HumanEvalTask, completion: string): string {
  return `${task.prompt}${completion}${task.suffix}\n${task.test}\n\ncheck(${task.entry_point})\n`;
}

/**
 * N items evenly spaced over the list, first one included (a deterministic subset that covers the whole
 * benchmark rather than its first few problems); all of them when n >= length.
 */
export function spread<T>(items: readonly T[], n: number | undefined): T[] {
  if (n === undefined || n >= items.length) {
    return [...items];
  }
  if (n <= 0) {
    return [];
  }
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    out.push(items[Math.floor((i * items.length) / n)]);
  }
  return out;
}
