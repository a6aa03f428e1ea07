// Word-level diff of a region before and after Refine Selection, for the removed / added decorations.
// No vscode import (unit-tested in Node). Words, runs of whitespace and single punctuation characters
// are the units, so a changed identifier shows as one removal and one insertion, not as characters.
export interface DiffOp {
  kind: 'equal' | 'removed' | 'added';
  /** Offsets in the old text: the removed span, or where an insertion goes (start === end). */
  oldStart: number;
  oldEnd: number;
  text: string;
}

const UNIT = /\w+|\s+|[^\w\s]/gu;

/** Units are limited so the O(n·m) table stays small; longer regions diff as one replacement. */
const MAX_UNITS = 4000;

export function wordDiff(before: string, after: string): DiffOp[] {
  const a = before.match(UNIT) ?? [];
  const b = after.match(UNIT) ?? [];
  if (a.length > MAX_UNITS || b.length > MAX_UNITS) {
    return merge([
      { kind: 'removed', oldStart: 0, oldEnd: before.length, text: before },
      { kind: 'added', oldStart: before.length, oldEnd: before.length, text: after },
    ]);
  }
  // lcs[i][j] = LCS length of a[i..] and b[j..].
  const lcs: Uint16Array[] = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  let offset = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: 'equal', oldStart: offset, oldEnd: offset + a[i].length, text: a[i] });
      offset += a[i].length;
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) {
      ops.push({ kind: 'added', oldStart: offset, oldEnd: offset, text: b[j] });
      j++;
    } else {
      ops.push({ kind: 'removed', oldStart: offset, oldEnd: offset + a[i].length, text: a[i] });
      offset += a[i].length;
      i++;
    }
  }
  return merge(ops.filter((op) => op.text.length > 0));
}

/** Joins neighbouring ops of the same kind (one decoration per changed run). */
function merge(ops: DiffOp[]): DiffOp[] {
  const out: DiffOp[] = [];
  for (const op of ops) {
    const last = out.at(-1);
    if (last && last.kind === op.kind && (op.kind === 'added' ? last.oldEnd === op.oldStart : true)) {
      last.text += op.text;
      last.oldEnd = op.kind === 'added' ? last.oldEnd : op.oldEnd;
    } else if (op.text.length > 0) {
      out.push({ ...op });
    }
  }
  return out;
}

/** Applying the ops to the old text gives the new one (what the tests check). */
export function applyDiff(before: string, ops: readonly DiffOp[]): string {
  let out = '';
  for (const op of ops) {
    if (op.kind === 'equal') {
      out += before.slice(op.oldStart, op.oldEnd);
    } else if (op.kind === 'added') {
      out += op.text;
    }
  }
  return out;
}
