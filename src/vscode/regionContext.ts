// The text around a region that Refine Selection and the confidence lens send to the engine: whole
// lines up to a character budget on each side (the engine then windows them by tokens), and where the
// sent prefix starts in the document so engine offsets can be mapped back.
import * as vscode from 'vscode';

/** Characters of context sent per side; the engine keeps at most its token budgets of them. */
export const CONTEXT_CHARS = 16_384;

export interface RegionContext {
  prefix: string;
  text: string;
  suffix: string;
  /** Document offset of the first character of `prefix`. */
  base: number;
}

export function regionContext(
  document: vscode.TextDocument,
  range: vscode.Range,
  maxChars = CONTEXT_CHARS,
): RegionContext {
  const startOffset = document.offsetAt(range.start);
  const endOffset = document.offsetAt(range.end);
  const total = document.getText().length;
  // Cut at line boundaries so the engine's line windows see whole lines.
  const first =
    startOffset <= maxChars
      ? 0
      : Math.min(range.start.line, document.positionAt(startOffset - maxChars).line + 1);
  const lastLine = document.positionAt(Math.min(total, endOffset + maxChars)).line;
  const docEnd = document.lineAt(document.lineCount - 1).range.end;
  const suffixEnd =
    total - endOffset <= maxChars || lastLine <= range.end.line ? docEnd : new vscode.Position(lastLine, 0);
  const prefixStart = new vscode.Position(first, 0);
  return {
    prefix: document.getText(new vscode.Range(prefixStart, range.start)),
    text: document.getText(range),
    suffix: document.getText(new vscode.Range(range.end, suffixEnd)),
    base: document.offsetAt(prefixStart),
  };
}
