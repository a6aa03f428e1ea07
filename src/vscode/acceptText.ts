// What an accept writes, as pure functions (no editor state): the completion in the document's own
// line endings, with the region's final newline kept, and the test that tells VS Code's own
// inline-suggest accept (which inserts our ghost text at the cursor) from a person typing.

/**
 * The text that replaces the region. The model works in LF (the corpus is LF); the document gets its
 * own EOL. A region that ended with a line break (a whole-line selection) keeps it: a completion
 * without one would join the next line to the last inserted one. An empty completion stays empty.
 */
export function textToInsert(regionText: string, completion: string, eol: '\n' | '\r\n'): string {
  const text = withRegionLineBreak(completion, regionText);
  return eol === '\n' ? text : text.replace(/\r?\n/g, eol);
}

/** `text` ending with a line break when the region did (see textToInsert); empty text stays empty. */
function withRegionLineBreak(text: string, regionText: string): string {
  return text.length > 0 && /\r?\n$/.test(regionText) && !text.endsWith('\n') ? text + '\n' : text;
}

/**
 * The text the preview shows for a frame or the completion, and so what Tab writes (LF): gaps of
 * blank lines closed (tidyBlankLines) and the region's final line break kept, so that the text after
 * a whole-line region is drawn on its own line in the preview as it will be after the accept.
 */
export function shownText(text: string, regionText: string): string {
  return withRegionLineBreak(tidyBlankLines(text, regionText), regionText);
}

/**
 * The ghost text that draws `shown` (see shownText) at the session's anchor. At a line-end anchor
 * (PreviewSession.lineEndAnchor) the region's final line break comes first: the preview starts on the
 * line after the region's last one and the line after the region keeps its own line.
 */
export function ghostTextAt(shown: string, lineEndAnchor: boolean): string {
  return lineEndAnchor && shown.endsWith('\n') ? '\n' + shown.slice(0, -1) : shown;
}

/** Whether a line holds only spaces and tabs (a placeholder glyph is not blank). */
function isBlank(line: string): boolean {
  return /^[ \t]*$/.test(line);
}

/**
 * Runs of blank lines in `text` (LF), as [start, length] over the line indices. Only whole lines count:
 * the first piece continues the anchor's line and the last one is followed by the text after the region.
 */
function blankRuns(lines: string[]): { start: number; length: number }[] {
  const runs: { start: number; length: number }[] = [];
  for (let i = 1; i < lines.length - 1; i++) {
    if (!isBlank(lines[i])) {
      continue;
    }
    const last = runs.at(-1);
    if (last && last.start + last.length === i) {
      last.length++;
    } else {
      runs.push({ start: i, length: 1 });
    }
  }
  return runs;
}

/** The blank-line shape of a region: its longest run, and the run it ends with (before the suffix). */
function blankShape(text: string): { longest: number; trailing: number } {
  const lines = text.split('\n');
  const runs = blankRuns(lines);
  const last = runs.at(-1);
  const endsBlank = lines.length > 1 && isBlank(lines[lines.length - 1]);
  return {
    longest: Math.max(0, ...runs.map((r) => r.length)),
    trailing: last && endsBlank && last.start + last.length === lines.length - 1 ? last.length : 0,
  };
}

/**
 * The text the preview shows and Tab writes (before the document's EOL): the model's text (a frame or
 * the completion, LF) with gaps of blank lines closed. A tiny model, and intermediate frames whose
 * resolved positions are line breaks, produce long runs of empty lines that push the code after the
 * region far down. A run is kept up to one blank line, or up to the longest run the region itself had;
 * blank lines at the end (before the text after the region) only as many as the region ended with.
 * Lines with a placeholder or code are never touched, nor the line break that ends the text.
 */
export function tidyBlankLines(text: string, regionText: string): string {
  const lines = text.split('\n');
  const runs = blankRuns(lines);
  if (runs.length === 0) {
    return text;
  }
  const region = blankShape(toLf(regionText));
  const interior = Math.max(1, region.longest);
  const endsBlank = isBlank(lines[lines.length - 1]);
  const drop = new Set<number>();
  for (const run of runs) {
    const atEnd = endsBlank && run.start + run.length === lines.length - 1;
    const keep = atEnd ? region.trailing : interior;
    for (let i = run.start + keep; i < run.start + run.length; i++) {
      drop.add(i);
    }
  }
  return lines.filter((_, i) => !drop.has(i)).join('\n');
}

/** LF only: what the model is given (CRLF documents are sent as LF). */
export function toLf(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/**
 * Whether an insertion at the ghost text's anchor is VS Code inserting (all or the start of) our
 * ghost text (inline-suggest commit, accept word/line, the hover toolbar) rather than a person
 * typing. One character is treated as typing: that is what a keystroke inserts, and a keystroke that
 * matches the ghost text must stay the user's. So is one line break with indentation: Enter with
 * auto-indent, which at a line-end anchor matches the start of every whole-line preview.
 */
export function isGhostTextInsertion(inserted: string, frameText: string, eol: '\n' | '\r\n'): boolean {
  if (inserted.length < 2 || frameText.length === 0 || /^[ \t]*\r?\n[ \t]*$/.test(inserted)) {
    return false;
  }
  const frame = eol === '\n' ? frameText : frameText.replace(/\r?\n/g, eol);
  return frame.startsWith(inserted);
}
