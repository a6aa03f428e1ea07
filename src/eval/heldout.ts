// Held-out infilling tasks from the corpus validation split: line-aligned holes (whole lines, as a
// selection in the editor usually is) cut from files the model never trained on, seeded and reproducible.
// Input: the corpus pipeline's files.jsonl ({id, source, path, lang, split, text}); files with split
// "val" are held out. Output: tasks in the `eval tasks` format (docs/eval-format.md).
import * as fs from 'node:fs';
import { mulberry32, type Random } from '../engine/sampler/prng';
import type { ReferenceTask } from './tasks';

export interface CorpusFile {
  id: string;
  path: string;
  lang: string;
  text: string;
}

export interface HeldoutOptions {
  n: number;
  seed: number;
  /** Longest hole in lines (holes are 1 line half of the time, else 2..maxLines uniformly). */
  maxLines: number;
  /** Longest reference in characters. */
  maxChars: number;
  /** Shortest reference in non-whitespace characters (skips holes like a lone "}"). */
  minChars: number;
  /** Only these languages (empty: all). */
  languages: readonly string[];
  /** Value of the "split" field that marks held-out files. */
  split: string;
}

export const HELDOUT_DEFAULTS: Omit<HeldoutOptions, 'n'> = {
  seed: 1234,
  maxLines: 6,
  maxChars: 400,
  minChars: 8,
  languages: [],
  split: 'val',
};

export interface HeldoutTask extends ReferenceTask {
  /** Where the hole came from (informational). */
  source: { file: string; path: string; first_line: number; lines: number };
}

/** The held-out cutter's generator: mulberry32 on the raw seed (see src/engine/sampler/prng.ts). */
export function prng(seed: number): Random {
  return mulberry32(seed);
}

export function readHeldoutFiles(
  corpus: string,
  split = 'val',
  languages: readonly string[] = [],
): CorpusFile[] {
  const files: CorpusFile[] = [];
  fs.readFileSync(corpus, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim().length === 0) {
        return;
      }
      const f = JSON.parse(line) as Record<string, unknown>;
      if (f.split !== split) {
        return;
      }
      if (typeof f.text !== 'string' || typeof f.lang !== 'string') {
        throw new Error(`${corpus}:${i + 1}: a corpus file needs "text" and "lang"`);
      }
      if (languages.length > 0 && !languages.includes(f.lang)) {
        return;
      }
      files.push({
        id: String(f.id ?? i + 1),
        path: typeof f.path === 'string' ? f.path : String(f.id ?? i + 1),
        lang: f.lang,
        text: f.text,
      });
    });
  return files;
}

/** One hole in a file, or undefined when no acceptable hole was found in a few tries. */
function cutHole(
  file: CorpusFile,
  rand: () => number,
  options: Omit<HeldoutOptions, 'n'>,
  taken: Set<string>,
): HeldoutTask | undefined {
  const lines = file.text.split('\n');
  // A trailing newline leaves an empty last element: not a line of its own.
  const count = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  if (count < 2) {
    return undefined;
  }
  for (let attempt = 0; attempt < 40; attempt++) {
    const k = rand() < 0.5 ? 1 : 2 + Math.floor(rand() * Math.max(1, options.maxLines - 1));
    const span = Math.min(k, options.maxLines, count - 1);
    // Start after line 0 so there is always some prefix.
    const start = 1 + Math.floor(rand() * (count - span));
    const key = `${file.id}:${start}`;
    if (taken.has(key) || lines[start].trim().length === 0) {
      continue;
    }
    const end = start + span; // exclusive
    const before = lines.slice(0, start).join('\n') + '\n';
    const holeLines = lines.slice(start, end);
    const atEof = end >= lines.length;
    const reference = holeLines.join('\n') + (atEof ? '' : '\n');
    const suffix = atEof ? '' : lines.slice(end).join('\n');
    const visible = reference.replace(/\s+/g, '');
    if (visible.length < options.minChars || reference.length > options.maxChars) {
      continue;
    }
    if (holeLines[holeLines.length - 1].trim().length === 0) {
      continue;
    }
    taken.add(key);
    return {
      task_id: `${file.id}:L${start + 1}-${end}`,
      prefix: before,
      suffix,
      reference,
      language: file.lang,
      source: { file: file.id, path: file.path, first_line: start + 1, lines: span },
    };
  }
  return undefined;
}

/**
 * n holes spread over the held-out files: files in a seeded random order, one hole per file per round,
 * rounds until n holes (or no file yields another).
 */
export function makeHeldout(files: readonly CorpusFile[], options: HeldoutOptions): HeldoutTask[] {
  const rand = prng(options.seed);
  const order = [...files];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const tasks: HeldoutTask[] = [];
  const taken = new Set<string>();
  let active = order;
  while (tasks.length < options.n && active.length > 0) {
    const next: CorpusFile[] = [];
    for (const file of active) {
      if (tasks.length >= options.n) {
        break;
      }
      const task = cutHole(file, rand, options, taken);
      if (task) {
        tasks.push(task);
        next.push(file);
      }
    }
    active = next;
  }
  return tasks;
}
