// Builds the engine request for one infill from the editor: the text before and after the hole, the
// selection, the language, and the settings. Refuses documents the engine should not see (binary
// content, huge files) with a message instead of a silent no-op. The model only ever saw LF text, so
// CRLF documents are sent as LF (acceptText.ts converts the result back to the document's EOL).
import * as vscode from 'vscode';
import type { InfillRequest } from '../engine/protocol';
import { toLf } from './acceptText';
import { commentLine } from './comments';
import { requestOptions, type Settings } from './settings';

/** Documents longer than this are refused (the engine reads a window, but the copy itself costs). */
export const HUGE_DOCUMENT_CHARS = 5_000_000;
/** Characters of context sent per budgeted token (the engine windows by tokens at line starts). */
const CHARS_PER_BUDGET_TOKEN = 24;

export class RefusedError extends Error {
  override readonly name = 'RefusedError';
}

export function checkDocument(document: vscode.TextDocument): void {
  const text = document.getText();
  const length = text.length;
  if (length > HUGE_DOCUMENT_CHARS) {
    throw new RefusedError(
      `${basename(document)} is too large (${length.toLocaleString('en-US')} characters, limit ${HUGE_DOCUMENT_CHARS.toLocaleString('en-US')}).`,
    );
  }
  if (text.includes('\u0000')) {
    throw new RefusedError(
      `${basename(document)} looks binary (it contains NUL characters); infill works on text files.`,
    );
  }
}

/** Request for replacing `range` (a selection, or an empty range at the cursor). */
export function buildInfillRequest(
  document: vscode.TextDocument,
  range: vscode.Range,
  settings: Settings,
): Omit<InfillRequest, 'id'> {
  const selectionText = toLf(document.getText(range));
  return {
    ...requestOptions(settings),
    prefix: toLf(prefixText(document, range.start, settings.prefixTokens)),
    suffix: toLf(suffixText(document, range.end, settings.suffixTokens)),
    languageId: document.languageId,
    selectionText: selectionText.length > 0 ? selectionText : undefined,
  };
}

/**
 * Request for Generate from Prompt at `position`: the prompt goes into the model's context as a
 * comment line above the cursor line (indented like it), never into the document.
 */
export function buildPromptRequest(
  document: vscode.TextDocument,
  position: vscode.Position,
  prompt: string,
  settings: Settings,
): Omit<InfillRequest, 'id'> {
  const lineStart = new vscode.Position(position.line, 0);
  const before = prefixText(document, lineStart, settings.prefixTokens);
  const linePrefix = document.lineAt(position.line).text.slice(0, position.character);
  const indent = /^\s*/.exec(linePrefix)?.[0] ?? '';
  const comment = `${indent}${commentLine(document.languageId, prompt)}\n`;
  return {
    ...requestOptions(settings),
    prefix: toLf(before) + comment + linePrefix,
    suffix: toLf(suffixText(document, position, settings.suffixTokens)),
    languageId: document.languageId,
  };
}

function prefixText(document: vscode.TextDocument, end: vscode.Position, budget: number): string {
  const endOffset = document.offsetAt(end);
  const maxChars = Math.max(4096, budget * CHARS_PER_BUDGET_TOKEN);
  if (endOffset <= maxChars) {
    return document.getText(new vscode.Range(new vscode.Position(0, 0), end));
  }
  // Start at a line start so the engine's whole-line windowing sees whole lines only.
  const startLine = document.positionAt(endOffset - maxChars).line + 1;
  return document.getText(new vscode.Range(new vscode.Position(Math.min(startLine, end.line), 0), end));
}

function suffixText(document: vscode.TextDocument, start: vscode.Position, budget: number): string {
  const startOffset = document.offsetAt(start);
  const total = document.getText().length;
  const maxChars = Math.max(4096, budget * CHARS_PER_BUDGET_TOKEN);
  const docEnd = document.lineAt(document.lineCount - 1).range.end;
  if (total - startOffset <= maxChars) {
    return document.getText(new vscode.Range(start, docEnd));
  }
  // End at a line end (keeping its newline) for the same reason.
  const endLine = document.positionAt(startOffset + maxChars).line;
  const end =
    endLine > start.line
      ? new vscode.Position(endLine, 0)
      : document.lineAt(start.line).rangeIncludingLineBreak.end;
  return document.getText(new vscode.Range(start, end));
}

function basename(document: vscode.TextDocument): string {
  const p = document.uri.path;
  return p.slice(p.lastIndexOf('/') + 1) || document.uri.toString();
}
