// What an accept writes, as pure functions (no editor state): the completion in the document's own
// line endings, with the region's final newline kept, and the test that tells VS Code's own
// inline-suggest accept (which inserts our ghost text at the cursor) from a person typing.

/**
 * The text that replaces the region. The model works in LF (the corpus is LF); the document gets its
 * own EOL. A region that ended with a line break (a whole-line selection) keeps it: a completion
 * without one would join the next line to the last inserted one. An empty completion stays empty.
 */
export function textToInsert(regionText: string, completion: string, eol: '\n' | '\r\n'): string {
  let text = completion;
  if (text.length > 0 && /\r?\n$/.test(regionText) && !text.endsWith('\n')) {
    text += '\n';
  }
  return eol === '\n' ? text : text.replace(/\r?\n/g, eol);
}

/** LF only: what the model is given (CRLF documents are sent as LF). */
export function toLf(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/**
 * Whether an insertion at the ghost text's anchor is VS Code inserting (all or the start of) our
 * ghost text (inline-suggest commit, accept word/line, the hover toolbar) rather than a person
 * typing. One character is treated as typing: that is what a keystroke inserts, and a keystroke that
 * matches the ghost text must stay the user's.
 */
export function isGhostTextInsertion(inserted: string, frameText: string, eol: '\n' | '\r\n'): boolean {
  if (inserted.length < 2 || frameText.length === 0) {
    return false;
  }
  const frame = eol === '\n' ? frameText : frameText.replace(/\r?\n/g, eol);
  return frame.startsWith(inserted);
}
