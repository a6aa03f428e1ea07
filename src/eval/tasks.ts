// Bring-your-own held-out tasks: JSONL of {task_id, prefix, suffix, reference, language?}, scored by
// exact match (whitespace-normalised) and character edit similarity. Format: docs/eval-format.md.
import * as fs from 'node:fs';
import type { EvalItem } from './evaluate';
import { sizedTask, type Encoder, type LengthPolicy } from './length';

export interface ReferenceTask {
  task_id: string;
  prefix: string;
  suffix: string;
  reference: string;
  /** VS Code language id (python, javascript, typescript, ...). */
  language?: string;
}

export function parseReferenceTask(line: string, where: string): ReferenceTask {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${where}: a task must be a JSON object`);
  }
  const t = raw as Record<string, unknown>;
  if (typeof t.task_id !== 'string' && typeof t.task_id !== 'number') {
    throw new Error(`${where}: "task_id" must be a string`);
  }
  for (const key of ['prefix', 'suffix', 'reference']) {
    if (typeof t[key] !== 'string') {
      throw new Error(`${where}: "${key}" must be a string`);
    }
  }
  if (t.language !== undefined && typeof t.language !== 'string') {
    throw new Error(`${where}: "language" must be a string`);
  }
  return {
    task_id: String(t.task_id),
    prefix: t.prefix as string,
    suffix: t.suffix as string,
    reference: t.reference as string,
    ...(typeof t.language === 'string' ? { language: t.language } : {}),
  };
}

/** Reads a task file; duplicate task ids are an error (they would share a cache entry). */
export function readReferenceTasks(file: string): ReferenceTask[] {
  const tasks: ReferenceTask[] = [];
  const seen = new Set<string>();
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim().length === 0) {
        return;
      }
      const t = parseReferenceTask(line, `${file}:${i + 1}`);
      if (seen.has(t.task_id)) {
        throw new Error(`${file}:${i + 1}: duplicate task_id ${JSON.stringify(t.task_id)}`);
      }
      seen.add(t.task_id);
      tasks.push(t);
    });
  return tasks;
}

export function referenceItems(
  tasks: readonly ReferenceTask[],
  policy: LengthPolicy,
  encoder: Encoder,
): EvalItem[] {
  return tasks.map((t) => ({
    reference: t.reference,
    task: sizedTask(
      { task_id: t.task_id, prefix: t.prefix, suffix: t.suffix, language: t.language },
      t.reference,
      policy,
      encoder,
    ),
  }));
}
