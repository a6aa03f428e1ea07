// The region the confidence lens scores: the function or method around the cursor, by tree-sitter
// where syntax.ts has a grammar for the language, else the indentation block around the cursor.
import type { Span } from './sampler/spans';
import { SyntaxChecker } from './syntax';

/** Syntax node types that are "a function" across the grammars syntax.ts maps. */
const FUNCTION_NODES =
  /^(function_definition|function_declaration|function_item|method_definition|method_declaration|constructor_declaration|function_expression|arrow_function|generator_function_declaration|method|singleton_method|local_function)$/;

/** The enclosing function by syntax where a grammar exists, else the indentation block around the offset. */
export async function enclosingFunction(
  text: string,
  offset: number,
  languageId: string | undefined,
): Promise<{ span: Span; how: string }> {
  if (languageId) {
    try {
      const checker = await SyntaxChecker.forLanguage(languageId);
      const found = checker?.enclosingRange(
        text,
        Math.min(offset, Math.max(0, text.length - 1)),
        FUNCTION_NODES,
      );
      if (found) {
        const start = text.lastIndexOf('\n', found.start - 1) + 1; // from the line start (indentation)
        return { span: { start, end: found.end }, how: `enclosing function (${languageId} syntax)` };
      }
    } catch {
      // no grammar: fall through to indentation
    }
  }
  return { span: indentationBlock(text, offset), how: 'indentation block around the cursor' };
}

/** The header line above the offset with less indentation, and the lines below it indented deeper. */
export function indentationBlock(text: string, offset: number): Span {
  const lines = text.split('\n');
  const starts: number[] = [];
  let pos = 0;
  for (const line of lines) {
    starts.push(pos);
    pos += line.length + 1;
  }
  let cursorLine = starts.findIndex((s, i) => offset >= s && offset < s + lines[i].length + 1);
  if (cursorLine < 0) {
    cursorLine = lines.length - 1;
  }
  const indent = (i: number) => /^[ \t]*/.exec(lines[i])?.[0].length ?? 0;
  const blank = (i: number) => lines[i].trim().length === 0;
  let header = cursorLine;
  while (header > 0 && blank(header)) {
    header--;
  }
  const own = indent(header);
  for (let i = header - 1; i >= 0; i--) {
    if (!blank(i) && indent(i) < own) {
      header = i;
      break;
    }
  }
  const headerIndent = indent(header);
  let last = header;
  for (let i = header + 1; i < lines.length; i++) {
    if (blank(i)) {
      continue;
    }
    if (indent(i) <= headerIndent) {
      break;
    }
    last = i;
  }
  return { start: starts[header], end: starts[last] + lines[last].length };
}
