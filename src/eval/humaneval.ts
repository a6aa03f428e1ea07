// HumanEval-Infilling, scored by execution: the completion passes when prompt + completion + suffix,
// followed by the task's test and check(entry_point), exits 0 in the sandbox within the time limit.
import type { ResultCache } from './cache';
import { evaluate, type EvalItem, type RunTaskFn, type TaskRecord } from './evaluate';
import { checkProgram, type HumanEvalTask } from './humaneval-data';
import { sizedTask, type Encoder, type LengthPolicy } from './length';
import type { ProgressSink } from './progress';
import { runPython, type ExecResult, type SandboxOptions } from './sandbox';

export interface HumanEvalItem extends EvalItem {
  source: HumanEvalTask;
}

export function humanEvalItems(
  tasks: readonly HumanEvalTask[],
  policy: LengthPolicy,
  encoder: Encoder,
): HumanEvalItem[] {
  return tasks.map((t) => ({
    source: t,
    reference: t.canonical_solution,
    task: sizedTask(
      { task_id: t.task_id, prefix: t.prompt, suffix: t.suffix, language: 'python' },
      t.canonical_solution,
      policy,
      encoder,
    ),
  }));
}

/** Last lines of a failing program's stderr, for the per-task record. */
function tail(text: string, maxChars = 600): string {
  const t = text.trimEnd();
  return t.length <= maxChars ? t : `...${t.slice(t.length - maxChars)}`;
}

/** Runs one completion of one task through the sandbox. */
export async function executeCompletion(
  task: HumanEvalTask,
  completion: string,
  sandbox: SandboxOptions = {},
): Promise<ExecResult> {
  return runPython(checkProgram(task, completion), sandbox);
}

export function execFields(r: ExecResult): Partial<TaskRecord> {
  return {
    passed: r.passed,
    exec_status: r.status,
    exec_ms: r.ms,
    ...(r.passed ? {} : { stderr_tail: tail(r.stderr || r.stdout) }),
  };
}

/**
 * A stand-in for the engine that answers every task with its canonical solution (harness check: all
 * must pass) or with nothing (`empty`: the floor, tasks whose line the tests do not need).
 */
export function canonicalRunner(tasks: ReadonlyMap<string, HumanEvalTask>, empty = false): RunTaskFn {
  return async (task) => {
    const source = tasks.get(task.task_id);
    if (!source) {
      throw new Error(`no canonical solution for ${task.task_id}`);
    }
    const completion = empty ? '' : source.canonical_solution;
    return { task_id: task.task_id, completion, nfe: 0, ms: 0, steps: 0, tokens: 0 };
  };
}

export interface HumanEvalRunOptions {
  items: readonly HumanEvalItem[];
  run: RunTaskFn;
  hash: string;
  cache: ResultCache;
  label: string;
  sandbox?: SandboxOptions;
  progress?: ProgressSink | null;
}

export async function runHumanEval(options: HumanEvalRunOptions): Promise<TaskRecord[]> {
  return evaluate({
    items: options.items,
    run: options.run,
    hash: options.hash,
    cache: options.cache,
    label: options.label,
    progress: options.progress,
    score: async (item, completion) =>
      execFields(await executeCompletion(item.source, completion, options.sandbox)),
  });
}
