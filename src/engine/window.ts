// Builds the model input for one infill: prefix window ++ [MASK] * canvas ++ suffix window.
// Windows are cut at line boundaries (whole lines only), so no token is split by the cut and the
// tokens at the cut are the ones the model saw in training.
import { EngineError } from './errors';
import type { InfillRequest } from './protocol';

export const REQUEST_DEFAULTS = {
  prefixBudget: 192,
  suffixBudget: 96,
  canvasSlack: 0.25,
  canvasSlackMin: 4,
  defaultCanvasTokens: 32,
};

/** Context never shrinks below this many tokens per side when making room for the canvas. */
const MIN_CONTEXT_TOKENS = 32;
/** Upper bound on characters per token used to pick a candidate tail before tokenizing. */
const MAX_CHARS_PER_TOKEN = 16;

export interface Encoder {
  encode(text: string): number[];
}

export interface WindowModel {
  maxLength: number;
  maskId: number;
  /** Token placed before the canvas when the model needs one and the prefix is empty. */
  leadTokenId?: number;
  /** Tokens that must precede the first canvas position (1 for shifted models). */
  leadingContext: number;
}

export interface InfillWindow {
  inputIds: number[];
  canvasStart: number;
  canvasLength: number;
  /** The windowed context texts the model sees (for parse checks). */
  prefixText: string;
  suffixText: string;
  /** Whitespace that ended the prefix and moved into the canvas (see splitTrailingWhitespace). */
  movedWhitespace: string;
  /** Tokens the selection had (0 without one). */
  selectionTokens: number;
  notes: string[];
}

export function buildWindow(
  encoder: Encoder,
  request: Omit<InfillRequest, 'id'>,
  model: WindowModel,
): InfillWindow {
  const notes: string[] = [];
  const prefixBudget = nonNegative(request.prefixBudget ?? REQUEST_DEFAULTS.prefixBudget, 'prefixBudget');
  const suffixBudget = nonNegative(request.suffixBudget ?? REQUEST_DEFAULTS.suffixBudget, 'suffixBudget');
  const selectionTokens = request.selectionText ? encoder.encode(request.selectionText).length : 0;
  const { text: prefixText, whitespace: movedWhitespace } = splitTrailingWhitespace(request.prefix);
  // The moved whitespace is regenerated inside the canvas: a sized canvas gets room for it; an explicit
  // canvasTokens is taken as given.
  const whitespaceTokens = request.canvasTokens === undefined ? encoder.encode(movedWhitespace).length : 0;
  let canvas = canvasLength(request, selectionTokens) + whitespaceTokens;

  let prefix = prefixWindow(encoder, prefixText, prefixBudget);
  let suffix = suffixWindow(encoder, request.suffix, suffixBudget);
  const lead = () =>
    prefix.ids.length < model.leadingContext ? model.leadingContext - prefix.ids.length : 0;
  const total = () => lead() + prefix.ids.length + canvas + suffix.ids.length;

  if (total() > model.maxLength) {
    // Make room for the canvas from the context first, down to a floor per side.
    const room = Math.max(0, model.maxLength - canvas - model.leadingContext);
    const p0 = prefix.ids.length;
    const s0 = suffix.ids.length;
    const prefixShare = Math.max(
      Math.min(p0, MIN_CONTEXT_TOKENS),
      Math.floor((room * p0) / Math.max(1, p0 + s0)),
    );
    const suffixShare = Math.max(Math.min(s0, MIN_CONTEXT_TOKENS), room - prefixShare);
    prefix = prefixWindow(encoder, prefixText, Math.min(prefixBudget, prefixShare));
    suffix = suffixWindow(encoder, request.suffix, Math.min(suffixBudget, suffixShare));
    notes.push(
      `context shortened to fit max_length ${model.maxLength}: prefix ${p0} -> ${prefix.ids.length}, suffix ${s0} -> ${suffix.ids.length} tokens`,
    );
  }
  if (total() > model.maxLength) {
    const clipped = model.maxLength - lead() - prefix.ids.length - suffix.ids.length;
    if (clipped < 1) {
      throw new EngineError('too-long', `no room for a canvas within max_length ${model.maxLength}`);
    }
    notes.push(`canvas clipped from ${canvas} to ${clipped} tokens to fit max_length ${model.maxLength}`);
    canvas = clipped;
  }
  if (prefix.cut) {
    notes.push(`prefix windowed to ${prefix.ids.length} tokens`);
  }
  if (suffix.cut) {
    notes.push(`suffix windowed to ${suffix.ids.length} tokens`);
  }

  const leadIds: number[] = [];
  if (lead() > 0) {
    if (model.leadTokenId === undefined) {
      throw new EngineError(
        'bad-request',
        'a shifted model needs context before the canvas and the model has no bos',
      );
    }
    leadIds.push(...new Array<number>(lead()).fill(model.leadTokenId));
  }
  const inputIds = [
    ...leadIds,
    ...prefix.ids,
    ...new Array<number>(canvas).fill(model.maskId),
    ...suffix.ids,
  ];
  return {
    inputIds,
    canvasStart: leadIds.length + prefix.ids.length,
    canvasLength: canvas,
    prefixText: prefix.text,
    suffixText: suffix.text,
    movedWhitespace,
    selectionTokens,
    notes,
  };
}

/**
 * Horizontal whitespace at the end of the prefix (the indentation before the cursor, or the space after
 * `x =`) tokenizes differently alone than followed by code: byte-level BPE splits "    return" into
 * "   " + " return", but a prefix ending in "    " gives one "    " token the model never saw before
 * code. So that whitespace moves into the canvas (the model writes it, as in line-aligned training
 * holes) and is taken off the completion again by `stripMovedWhitespace`.
 */
export function splitTrailingWhitespace(prefix: string): { text: string; whitespace: string } {
  const match = /[ \t]+$/.exec(prefix);
  if (!match) {
    return { text: prefix, whitespace: '' };
  }
  return { text: prefix.slice(0, match.index), whitespace: match[0] };
}

/** The completion as inserted after the user's own whitespace: the moved whitespace comes off again. */
export function stripMovedWhitespace(completion: string, whitespace: string): string {
  if (whitespace.length === 0) {
    return completion;
  }
  if (completion.startsWith(whitespace)) {
    return completion.slice(whitespace.length);
  }
  // The model chose a different amount: keep the user's whitespace, drop the model's.
  return completion.replace(/^[ \t]+/, '');
}

export function canvasLength(request: Omit<InfillRequest, 'id'>, selectionTokens: number): number {
  if (request.canvasTokens !== undefined) {
    return positiveInt(request.canvasTokens, 'canvasTokens');
  }
  if (selectionTokens > 0) {
    const slack = nonNegative(request.canvasSlack ?? REQUEST_DEFAULTS.canvasSlack, 'canvasSlack');
    const slackMin = nonNegative(request.canvasSlackMin ?? REQUEST_DEFAULTS.canvasSlackMin, 'canvasSlackMin');
    return Math.ceil(selectionTokens * (1 + slack)) + Math.ceil(slackMin);
  }
  return positiveInt(
    request.defaultCanvasTokens ?? REQUEST_DEFAULTS.defaultCanvasTokens,
    'defaultCanvasTokens',
  );
}

export interface TextWindow {
  text: string;
  ids: number[];
  /** Whether text was dropped to fit the budget. */
  cut: boolean;
}

/** The longest run of whole lines at the end of `text` within `budget` tokens. */
export function prefixWindow(encoder: Encoder, text: string, budget: number): TextWindow {
  return lineWindow(encoder, text, budget, 'tail');
}

/** The longest run of whole lines at the start of `text` within `budget` tokens. */
export function suffixWindow(encoder: Encoder, text: string, budget: number): TextWindow {
  return lineWindow(encoder, text, budget, 'head');
}

function lineWindow(encoder: Encoder, text: string, budget: number, side: 'head' | 'tail'): TextWindow {
  if (budget <= 0 || text.length === 0) {
    return { text: '', ids: [], cut: text.length > 0 };
  }
  // Candidate region: enough characters for `budget` tokens, then whole lines only. A whole document
  // is never tokenized just to find out that it is too long.
  const maxChars = budget * MAX_CHARS_PER_TOKEN;
  if (text.length <= maxChars) {
    const whole = encoder.encode(text);
    if (whole.length <= budget) {
      return { text, ids: whole, cut: false };
    }
  }
  let region = side === 'tail' ? text.slice(Math.max(0, text.length - maxChars)) : text.slice(0, maxChars);
  let lines = splitLines(region);
  const outerLineCut =
    region.length < text.length &&
    (side === 'tail' ? text[text.length - region.length - 1] !== '\n' : !region.endsWith('\n'));
  if (outerLineCut && lines.length > 1) {
    // The character slice cut the region's outer line: drop it.
    lines = side === 'tail' ? lines.slice(1) : lines.slice(0, -1);
  }
  // Per-line counts are a close estimate of the joined count; the final encode below is exact.
  const counts = lines.map((l) => encoder.encode(l).length);
  let keep = 0;
  let sum = 0;
  for (let i = 0; i < lines.length; i++) {
    const c = counts[side === 'tail' ? lines.length - 1 - i : i];
    if (sum + c > budget) {
      break;
    }
    sum += c;
    keep++;
  }
  for (; keep > 0; keep--) {
    region = (side === 'tail' ? lines.slice(lines.length - keep) : lines.slice(0, keep)).join('');
    const ids = encoder.encode(region);
    if (ids.length <= budget) {
      return { text: region, ids, cut: true };
    }
  }
  // Not even the line next to the hole fits: cut inside it, as close to the hole as the budget allows.
  const line = side === 'tail' ? lines[lines.length - 1] : lines[0];
  let chars = Math.min(line.length, budget);
  let best: TextWindow = { text: '', ids: [], cut: true };
  while (chars > 0) {
    const piece = side === 'tail' ? line.slice(line.length - chars) : line.slice(0, chars);
    const ids = encoder.encode(piece);
    if (ids.length > budget) {
      break;
    }
    best = { text: piece, ids, cut: true };
    if (chars === line.length) {
      break;
    }
    chars = Math.min(line.length, chars * 2);
  }
  return best;
}

/** Lines with their terminating '\n' kept, so joining gives the text back. */
export function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.filter((l) => l.length > 0);
}

function nonNegative(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new EngineError('bad-request', `${field} must be a non-negative number, got ${value}`);
  }
  return value;
}

function positiveInt(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new EngineError('bad-request', `${field} must be a positive integer, got ${value}`);
  }
  return value;
}
