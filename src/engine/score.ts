// What the bidirectional model thinks of code that is already written: pseudo-likelihood scores
// (Refine Selection, the confidence lens) and Refine Selection itself (re-mask the doubtful tokens,
// denoise only those). Uses the same position predictor as infill, so the logit shift, the
// positions_topk / full_logits graphs and every execution provider behave exactly as there.
//
// Cost: scoring masks the region in G interleaved groups (token i in group i mod G) and predicts each
// group in one forward pass: G passes for any region length. Each token is predicted with its
// neighbours visible (they sit in other groups), which is what makes the score mean "does this token
// fit here", not "can the model write this line from nothing".
import { AbortError, EngineError } from './errors';
import type { ModelManifest } from './manifest';
import type { PositionPredictor } from './predictor';
import type {
  RefineRequest,
  RefineResult,
  ScoreRequest,
  ScoreResult,
  Snapshot,
  TokenScore,
} from './protocol';
import { CanvasState } from './sampler/canvas';
import { denoise } from './sampler/denoise';
import { resolveSamplerOptions } from './sampler/options';
import { tokenSpans, type Span } from './sampler/spans';
import { gluesIntoIdentifier } from './sampler/token-classes';
import { leadingContextRequired } from './shift';
import { enclosingFunction } from './scope';
import { SyntaxChecker } from './syntax';
import type { CodeTokenizer } from './tokenizer';
import { CanvasTracer } from './trace';
import { prefixWindow, REQUEST_DEFAULTS, splitTrailingWhitespace, suffixWindow } from './window';

export const DEFAULT_GROUPS = 4;
export const DEFAULT_REFINE_THRESHOLD = 0.05;
export const DEFAULT_MAX_FRACTION = 0.5;
/** Context is never cut below this many tokens per side to make room for the region. */
const MIN_CONTEXT = 16;

/** What scoring needs of a loaded model (InfillEngine has it all). */
export interface ScoringModel {
  readonly manifest: ModelManifest;
  readonly tokenizer: CodeTokenizer;
  readonly predict: PositionPredictor;
}

export interface ScoreHooks {
  isCancelled?: () => boolean;
  betweenSteps?: () => Promise<void>;
  onSnapshot?: (snapshot: Snapshot) => void;
}

/** The model input for a region: context ++ region tokens ++ context, and where the region sits. */
interface RegionWindow {
  inputIds: number[];
  /** Token index of the first region token. */
  start: number;
  regionIds: number[];
  /** Character span of each region token within `movedWhitespace + regionText`. */
  spans: Span[];
  /** Prefix whitespace carried into the region so it tokenizes as in training (see window.ts). */
  movedWhitespace: string;
  prefixText: string;
  suffixText: string;
  notes: string[];
}

export async function scoreRegion(
  model: ScoringModel,
  request: ScoreRequest,
  hooks: ScoreHooks = {},
): Promise<ScoreResult> {
  const t0 = performance.now();
  checkStrings(request);
  const notes: string[] = [];
  let { prefix, text, suffix } = request;
  if (request.enclosingFunction) {
    const full = prefix + text + suffix;
    const found = await enclosingFunction(full, prefix.length, request.languageId);
    notes.push(`scope: ${found.how}`);
    prefix = full.slice(0, found.span.start);
    text = full.slice(found.span.start, found.span.end);
    suffix = full.slice(found.span.end);
  }
  const window = regionWindow(model, prefix, text, suffix, request);
  notes.push(...window.notes);
  const { tokens, passes, groups } = await scoreWindow(model, window, request.groups, hooks);
  return {
    requestId: request.id,
    regionStart: prefix.length,
    regionEnd: prefix.length + text.length,
    regionText: text,
    tokens,
    passes,
    groups,
    ms: Math.round(performance.now() - t0),
    notes,
  };
}

async function scoreWindow(
  model: ScoringModel,
  window: RegionWindow,
  requestedGroups: number | undefined,
  hooks: ScoreHooks,
): Promise<{ tokens: TokenScore[]; passes: number; groups: number }> {
  const n = window.regionIds.length;
  const groups = Math.min(Math.max(1, n), positiveInt(requestedGroups ?? DEFAULT_GROUPS, 'groups'));
  const mask = model.manifest.specialTokens.mask;
  const scores: (TokenScore | undefined)[] = new Array<TokenScore | undefined>(n);
  let passes = 0;
  for (let g = 0; g < groups && n > 0; g++) {
    if (hooks.isCancelled?.()) {
      throw new AbortError('scoring cancelled');
    }
    const members: number[] = [];
    for (let i = g; i < n; i += groups) {
      members.push(i);
    }
    const ids = [...window.inputIds];
    members.forEach((i) => (ids[window.start + i] = mask));
    const predictions = await model.predict(
      ids,
      members.map((i) => window.start + i),
    );
    passes++;
    members.forEach((i, j) => {
      const p = predictions[j];
      const token = window.regionIds[i];
      const rank = p.ids.indexOf(token);
      const rest = 1 - p.probs.reduce((a, b) => a + b, 0);
      const bound = Math.max(0, Math.min(p.probs[p.probs.length - 1] ?? 1, rest));
      const span = window.spans[i];
      const shift = window.movedWhitespace.length;
      scores[i] = {
        start: Math.max(0, span.start - shift),
        end: Math.max(0, span.end - shift),
        text: model.tokenizer.piece(token),
        prob: rank >= 0 ? p.probs[rank] : bound,
        exact: rank >= 0,
        rank,
        entropy: p.entropy,
        alternatives: p.ids.map((id, k) => ({ text: model.tokenizer.piece(id), prob: p.probs[k] })),
      };
    });
    await hooks.betweenSteps?.();
  }
  // Tokens made only of the whitespace moved in from the prefix are not part of the user's region.
  const tokens = (scores as TokenScore[]).filter((s) => s.end > 0);
  return { tokens, passes, groups };
}

/**
 * Refine Selection: score, re-mask the tokens below the threshold (lowest first, at most maxFraction
 * of the region) plus the rest of any identifier they are part of and, where tree-sitter finds a parse
 * error, the rest of their line; then denoise only those positions with the region's other tokens as
 * context. Nothing doubtful: the text comes back unchanged after the scoring passes alone.
 */
export async function refineRegion(
  model: ScoringModel,
  request: RefineRequest,
  hooks: ScoreHooks = {},
): Promise<RefineResult> {
  const t0 = performance.now();
  checkStrings(request);
  const threshold = request.threshold ?? DEFAULT_REFINE_THRESHOLD;
  const maxFraction = request.maxFraction ?? DEFAULT_MAX_FRACTION;
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new EngineError('bad-request', `threshold must be within [0, 1], got ${threshold}`);
  }
  if (!(maxFraction > 0 && maxFraction <= 1)) {
    throw new EngineError('bad-request', `maxFraction must be within (0, 1], got ${maxFraction}`);
  }
  const options = resolveSamplerOptions(request.sampler);
  const window = regionWindow(model, request.prefix, request.text, request.suffix, request);
  const notes = [...window.notes];
  const scored = await scoreWindow(model, window, request.groups, hooks);
  const scores: ScoreResult = {
    requestId: request.id,
    regionStart: request.prefix.length,
    regionEnd: request.prefix.length + request.text.length,
    regionText: request.text,
    tokens: scored.tokens,
    passes: scored.passes,
    groups: scored.groups,
    ms: Math.round(performance.now() - t0),
    notes: [],
  };
  // Score indices count user tokens only; window indices also count moved-whitespace tokens first.
  const offset = window.regionIds.length - scored.tokens.length;
  const doubtful = scored.tokens
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.prob < threshold)
    .sort((a, b) => a.s.prob - b.s.prob || a.i - b.i)
    .slice(0, Math.max(1, Math.floor(scored.tokens.length * maxFraction)))
    .map(({ i }) => i)
    .sort((a, b) => a - b);
  const base = {
    requestId: request.id,
    scores,
    doubtful,
    scorePasses: scored.passes,
    notes,
  };
  if (doubtful.length === 0) {
    return {
      ...base,
      remasked: [],
      expansions: [],
      text: request.text,
      changed: false,
      passes: scored.passes,
      denoisePasses: 0,
      ms: Math.round(performance.now() - t0),
    };
  }
  const expansions: string[] = [];
  const remaskSet = new Set(doubtful);
  const identifier = identifierExpansion(model.tokenizer, window.regionIds.slice(offset), doubtful);
  if (identifier.length > 0) {
    identifier.forEach((i) => remaskSet.add(i));
    expansions.push(`${identifier.length} tokens of the identifiers around doubtful tokens`);
  }
  const lines = await parseErrorLines(request, scored.tokens, doubtful);
  const newLines = lines.filter((i) => !remaskSet.has(i));
  if (newLines.length > 0) {
    newLines.forEach((i) => remaskSet.add(i));
    expansions.push(`${newLines.length} tokens of lines inside a parse error`);
  }
  const remasked = [...remaskSet].sort((a, b) => a - b);

  const special = model.manifest.specialTokens;
  const ends = new Set([special.end, special.pad, ...(special.eos !== undefined ? [special.eos] : [])]);
  const state = new CanvasState([...window.inputIds], window.start, window.regionIds.length, {
    mask: special.mask,
    ends,
  });
  remasked.forEach((i) => (state.inputIds[window.start + offset + i] = special.mask));
  const tracer = request.trace && hooks.onSnapshot ? new CanvasTracer(state, model.tokenizer) : undefined;
  const render = () =>
    renderRegion(model.tokenizer, state, request.placeholder ?? '·', window.movedWhitespace);
  const interval = request.snapshotIntervalMs ?? 0;
  let lastSent = -Infinity;
  let lastStep = -1;
  let nfe = 0;
  const send = (step: number) => {
    lastStep = step;
    lastSent = performance.now();
    hooks.onSnapshot?.({
      requestId: request.id,
      step,
      maxSteps: remasked.length,
      text: render(),
      masksLeft: state.masksLeft,
      canvasLength: state.length,
      nfe: scored.passes + nfe,
      elapsedMs: Math.round(performance.now() - t0),
      ...(tracer ? { trace: tracer.take() } : {}),
    });
  };
  const outcome = await denoise({
    state,
    hasLeftContext: true,
    hasRightContext: true,
    predict: model.predict,
    options,
    pieces: model.tokenizer,
    isCancelled: hooks.isCancelled,
    betweenSteps: hooks.betweenSteps,
    onStep: (progress) => {
      nfe = progress.nfe;
      tracer?.observe(progress.step);
      if (hooks.onSnapshot && performance.now() - lastSent >= interval) {
        send(progress.step);
      }
    },
  });
  if (hooks.onSnapshot && lastStep !== outcome.steps) {
    send(outcome.steps);
  }
  const text = render();
  return {
    ...base,
    remasked,
    expansions,
    text,
    changed: text !== request.text,
    passes: scored.passes + outcome.nfe,
    denoisePasses: outcome.nfe,
    ms: Math.round(performance.now() - t0),
  };
}

/** Region text: end/pad tokens are deletions (the model chose to drop the position), masks placeholders. */
function renderRegion(
  tokenizer: CodeTokenizer,
  state: CanvasState,
  placeholder: string,
  movedWhitespace: string,
): string {
  let text = '';
  let run: number[] = [];
  for (let i = 0; i < state.length; i++) {
    const token = state.token(i);
    if (state.isMasked(i)) {
      text += tokenizer.decode(run) + placeholder;
      run = [];
    } else if (!state.isEnd(token)) {
      run.push(token);
    }
  }
  text += tokenizer.decode(run);
  return text.startsWith(movedWhitespace) ? text.slice(movedWhitespace.length) : text;
}

/**
 * The other tokens of every identifier a doubtful token belongs to: a BPE tokenizer splits long names
 * into pieces, and re-predicting one piece alone tends to glue a different name out of halves.
 */
export function identifierExpansion(
  pieces: { piece(id: number): string },
  ids: readonly number[],
  doubtful: readonly number[],
): number[] {
  const word = (i: number) => pieces.piece(ids[i]);
  const joins = (a: number, b: number) => gluesIntoIdentifier([word(a), word(b)]) && !/^\s/.test(word(b));
  const out = new Set<number>();
  const seed = new Set(doubtful);
  for (const d of doubtful) {
    if (!gluesIntoIdentifier([word(d)])) {
      continue;
    }
    for (let i = d; i > 0 && joins(i - 1, i); i--) {
      out.add(i - 1);
    }
    for (let i = d; i + 1 < ids.length && joins(i, i + 1); i++) {
      out.add(i + 1);
    }
  }
  return [...out].filter((i) => !seed.has(i)).sort((a, b) => a - b);
}

/** Score indices of the whole lines (within the region) of doubtful tokens that sit in a parse error. */
export async function parseErrorLines(
  request: RefineRequest,
  tokens: readonly TokenScore[],
  doubtful: readonly number[],
): Promise<number[]> {
  if (!request.languageId) {
    return [];
  }
  let checker: SyntaxChecker | undefined;
  try {
    checker = await SyntaxChecker.forLanguage(request.languageId);
  } catch {
    return [];
  }
  if (!checker) {
    return [];
  }
  const base = request.prefix.length;
  const errors = checker
    .errorRanges(request.prefix + request.text + request.suffix)
    .map((r) => ({ start: r.start - base, end: r.end - base }))
    .filter((r) => r.end >= 0 && r.start <= request.text.length);
  if (errors.length === 0) {
    return [];
  }
  const inError = (s: TokenScore) =>
    errors.some((r) =>
      r.start === r.end ? s.start <= r.start && r.start <= s.end : s.start < r.end && r.start < s.end,
    );
  const lineOf = (offset: number) => request.text.slice(0, offset).split('\n').length - 1;
  const lines = new Set(doubtful.filter((i) => inError(tokens[i])).map((i) => lineOf(tokens[i].start)));
  const out: number[] = [];
  tokens.forEach((s, i) => {
    // A token that holds a newline ends its line: it belongs to the line it starts on.
    if (lines.has(lineOf(s.start)) && s.text.trim().length > 0) {
      out.push(i);
    }
  });
  return out;
}

function regionWindow(
  model: ScoringModel,
  prefix: string,
  text: string,
  suffix: string,
  budgets: { prefixBudget?: number; suffixBudget?: number },
): RegionWindow {
  const { manifest, tokenizer } = model;
  const notes: string[] = [];
  const { text: prefixText, whitespace } = splitTrailingWhitespace(prefix);
  const regionIds = tokenizer.encode(whitespace + text);
  if (text.length === 0 || regionIds.length === 0) {
    throw new EngineError('bad-request', 'nothing to score: the region is empty');
  }
  const lead = leadingContextRequired(manifest.logitShift);
  const room = manifest.maxLength - regionIds.length - lead;
  if (room < 0) {
    throw new EngineError(
      'too-long',
      `the region has ${regionIds.length} tokens; the model's window is ${manifest.maxLength}`,
    );
  }
  let prefixBudget = budgets.prefixBudget ?? REQUEST_DEFAULTS.prefixBudget;
  let suffixBudget = budgets.suffixBudget ?? REQUEST_DEFAULTS.suffixBudget;
  if (prefixBudget + suffixBudget > room) {
    const share = prefixBudget / Math.max(1, prefixBudget + suffixBudget);
    prefixBudget = Math.max(Math.min(MIN_CONTEXT, room), Math.floor(room * share));
    suffixBudget = Math.max(0, room - prefixBudget);
    notes.push(`context shortened to ${prefixBudget} + ${suffixBudget} tokens to fit the region`);
  }
  const p = prefixWindow(tokenizer, prefixText, prefixBudget);
  const s = suffixWindow(tokenizer, suffix, suffixBudget);
  const leadIds: number[] = [];
  if (p.ids.length < lead) {
    const special = manifest.specialTokens;
    leadIds.push(special.bos ?? special.eos ?? special.pad);
  }
  const decode = (ids: readonly number[]) => tokenizer.decode(ids);
  return {
    inputIds: [...leadIds, ...p.ids, ...regionIds, ...s.ids],
    start: leadIds.length + p.ids.length,
    regionIds,
    spans: regionSpans(tokenizer, regionIds, decode),
    movedWhitespace: whitespace,
    prefixText: p.text,
    suffixText: s.text,
    notes,
  };
}

/**
 * Token spans by summing single-token pieces when they decode back to the whole text (the common case:
 * no character split across tokens), else the exact but quadratic prefix decoding of spans.ts.
 */
function regionSpans(
  tokenizer: CodeTokenizer,
  ids: readonly number[],
  decode: (ids: readonly number[]) => string,
): Span[] {
  const pieces = ids.map((id) => tokenizer.piece(id));
  if (pieces.join('') !== decode(ids)) {
    return tokenSpans(ids, decode);
  }
  let at = 0;
  return pieces.map((p) => ({ start: at, end: (at += p.length) }));
}

function checkStrings(request: { prefix: unknown; text: unknown; suffix: unknown }): void {
  if (
    typeof request.prefix !== 'string' ||
    typeof request.text !== 'string' ||
    typeof request.suffix !== 'string'
  ) {
    throw new EngineError('bad-request', 'prefix, text and suffix must be strings');
  }
}

function positiveInt(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new EngineError('bad-request', `${field} must be a positive integer, got ${value}`);
  }
  return value;
}
