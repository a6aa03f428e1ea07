// Splits a file's text at a region given as 1-based LINE:COL positions (the way editors show them),
// for the CLI's `infill --start --end`.
import { LANGUAGES } from './languages';

export interface Position {
  line: number;
  column: number;
}

export interface SplitText {
  prefix: string;
  selection: string;
  suffix: string;
}

export function parsePosition(value: string, flag: string): Position {
  const match = /^(\d+):(\d+)$/.exec(value.trim());
  if (!match) {
    throw new Error(`${flag} must be LINE:COL (1-based), got ${JSON.stringify(value)}`);
  }
  const position = { line: Number(match[1]), column: Number(match[2]) };
  if (position.line < 1 || position.column < 1) {
    throw new Error(`${flag} is 1-based: LINE and COL start at 1, got ${value}`);
  }
  return position;
}

/** UTF-16 offset of a 1-based position; a column past the line's end clamps to the end. */
export function offsetAt(text: string, position: Position): number {
  let offset = 0;
  for (let line = 1; line < position.line; line++) {
    const next = text.indexOf('\n', offset);
    if (next < 0) {
      throw new Error(`line ${position.line} is past the end of the file (${line} lines)`);
    }
    offset = next + 1;
  }
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) {
    lineEnd = text.length;
  }
  if (lineEnd > offset && text[lineEnd - 1] === '\r') {
    lineEnd--;
  }
  return Math.min(offset + position.column - 1, lineEnd);
}

export function splitAt(text: string, start: Position, end: Position): SplitText {
  const a = offsetAt(text, start);
  const b = offsetAt(text, end);
  if (b < a) {
    throw new Error('--end is before --start');
  }
  return { prefix: text.slice(0, a), selection: text.slice(a, b), suffix: text.slice(b) };
}

/** File extension -> VS Code language id (from languages.ts). */
const LANGUAGE_BY_EXTENSION: Readonly<Record<string, string>> = Object.fromEntries(
  LANGUAGES.flatMap((l) => l.extensions.map((ext) => [ext, l.id])),
);

export function languageForFile(file: string): string | undefined {
  const dot = file.lastIndexOf('.');
  return dot < 0 ? undefined : LANGUAGE_BY_EXTENSION[file.slice(dot).toLowerCase()];
}
