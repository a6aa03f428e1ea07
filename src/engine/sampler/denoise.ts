// The denoising loop. Each step is one forward pass (one predictor call) over every canvas still
// open, as one batch; per canvas, the end rule (endRule.ts) shapes the proposals, the commit rule
// (commitRule.ts) picks what to commit. Every step commits at least one position per canvas, so the
// loop terminates; it yields between steps so a cancel message can arrive. NFE is counted per call
// (forward passes) and per batch row (canvases x passes).
//
// Several canvases arise from the length search and the candidates: after the first pass, `select`
// sees each canvas's first-pass score and says which continue (a canvas may continue several times,
// as copies decoded with other seeds or temperatures: they reuse that first pass's predictions).
import { AbortError } from '../errors';
import type { BatchPredictor, PositionPredictor } from '../predictor';
import type { SamplerOptions } from '../protocol';
import type { RowPrediction } from '../topk';
import { proposeCandidate, type Candidate } from './candidates';
import type { CanvasState } from './canvas';
import { selectCommits } from './commitRule';
import { planEnds, withoutEnds } from './endRule';
import { seededRandom, type Random } from './prng';
import {
  lowConfidencePositions,
  MAX_REMASKS_PER_POSITION,
  parseErrorPositions,
  REMASK_FLOOR,
  remaskCap,
  REVIEW_ROUNDS,
} from './remask';
import { canvasScore, firstPassScore } from './score';
import type { TokenPieces } from './token-classes';

export interface StepProgress {
  step: number;
  nfe: number;
  masksLeft: number;
  elapsedMs: number;
  /** The canvas shown: the best-ranked one after the first pass. */
  lead: CanvasState;
}

/** One canvas to decode. */
export interface CanvasSpec {
  state: CanvasState;
  /** Whether a token precedes / follows the canvas (prefix or lead token / suffix or end padding). */
  hasLeftContext: boolean;
  hasRightContext: boolean;
  options: SamplerOptions;
}

/** A canvas that continues after the first pass; `options` overrides (seed, temperature) make a copy differ. */
export interface Continuation {
  from: number;
  options?: Partial<SamplerOptions>;
}

export interface BatchDenoiseSetup {
  canvases: CanvasSpec[];
  predict: BatchPredictor;
  pieces: TokenPieces;
  /** Canvas indices of completion tokens inside parse errors; absent when no grammar is available. */
  parseErrors?: (completion: number[]) => number[];
  /** After the first pass: which canvases continue, best first (default: all, in order). */
  select?: (firstPassScores: readonly number[], wantsEmpty: readonly boolean[]) => Continuation[];
  isCancelled?: () => boolean;
  /** Awaited between steps (the engine process yields a macrotask here so messages get handled). */
  betweenSteps?: () => Promise<void>;
  onStep?: (progress: StepProgress) => void;
  now?: () => number;
}

export interface CanvasOutcome {
  state: CanvasState;
  options: SamplerOptions;
  /** Steps this canvas took (passes it was part of). */
  steps: number;
  /** Mean log-probability of its decisions (score.ts). */
  score: number;
  firstPassScore: number;
  remaskedLowConfidence: number;
  remaskedParseErrors: number;
}

export interface BatchDenoiseOutcome {
  /** The canvases that continued, in the order `select` returned them. */
  canvases: CanvasOutcome[];
  /** The first pass's score of every canvas given (before `select`), in input order. */
  firstPassScores: number[];
  /** Forward passes (predictor calls). */
  nfe: number;
  /** Batch rows evaluated: the sum over passes of the canvases in each. */
  nfeRows: number;
  firstFrameMs: number;
  ms: number;
}

interface Row {
  spec: CanvasSpec;
  random: Random;
  steps: number;
  reviews: number;
  /** After a review, the re-masked positions sit in finished context: refill them at once (guard permitting). */
  refilling: boolean;
  /** Positions the guard deferred in the last step (exempt from it in the next). */
  deferred: Set<number>;
  done: boolean;
  firstPassScore: number;
  remaskedLowConfidence: number;
  remaskedParseErrors: number;
}

export async function denoiseBatch(setup: BatchDenoiseSetup): Promise<BatchDenoiseOutcome> {
  const now = setup.now ?? (() => performance.now());
  const t0 = now();
  let rows = setup.canvases.map(newRow);
  let nfe = 0;
  let nfeRows = 0;
  let firstFrameMs = 0;
  let firstPassScores: number[] = [];

  for (;;) {
    if (setup.isCancelled?.()) {
      throw new AbortError();
    }
    rows.filter((r) => !r.done).forEach((r) => reviewIfFinished(setup, r));
    let open = rows.filter((r) => !r.done);
    if (open.length === 0) {
      break;
    }
    const masked = open.map((r) => r.spec.state.maskedIndices());
    const predictions = await setup.predict(
      open.map((r, b) => ({
        inputIds: r.spec.state.inputIds,
        positions: masked[b].map((i) => r.spec.state.start + i),
      })),
    );
    nfe++;
    nfeRows += open.length;
    let proposals = open.map((r, b) => proposeStep(setup, r, byIndex(masked[b], predictions[b])));
    if (nfe === 1) {
      firstPassScores = proposals.map((p) => p.firstPassScore);
      ({ rows, proposals } = continueAfterFirstPass(setup, open, proposals, masked, predictions));
      open = rows;
    }
    open.forEach((r, k) => commitStep(setup, r, proposals[k].candidates, proposals[k].tail));
    const elapsedMs = now() - t0;
    if (nfe === 1) {
      firstFrameMs = elapsedMs;
    }
    // The preview follows one canvas (the best after the first pass), so its masks only go down.
    const lead = rows[0].spec.state;
    setup.onStep?.({ step: nfe, nfe, masksLeft: lead.masksLeft, elapsedMs, lead });
    await setup.betweenSteps?.();
  }
  return {
    canvases: rows.map((r) => ({
      state: r.spec.state,
      options: r.spec.options,
      steps: r.steps,
      score: canvasScore(r.spec.state),
      firstPassScore: r.firstPassScore,
      remaskedLowConfidence: r.remaskedLowConfidence,
      remaskedParseErrors: r.remaskedParseErrors,
    })),
    firstPassScores,
    nfe,
    nfeRows,
    firstFrameMs,
    ms: now() - t0,
  };
}

function newRow(spec: CanvasSpec): Row {
  return {
    spec,
    random: seededRandom(spec.options.seed),
    steps: 0,
    reviews: 0,
    refilling: false,
    deferred: new Set(),
    done: false,
    firstPassScore: 0,
    remaskedLowConfidence: 0,
    remaskedParseErrors: 0,
  };
}

function cloneRow(parent: Row, overrides: Partial<SamplerOptions> | undefined): Row {
  const options = { ...parent.spec.options, ...overrides };
  return newRow({ ...parent.spec, state: parent.spec.state.clone(), options });
}

type Proposal = ReturnType<typeof proposeStep>;

/**
 * Length search / candidates: the canvases `select` keeps after the first pass, with their proposals.
 * A canvas's first mention without overrides is the canvas itself; any other mention is a copy (taken
 * before this step commits, so it shares only the first pass) proposing with its own seed/temperature.
 */
function continueAfterFirstPass(
  setup: BatchDenoiseSetup,
  open: Row[],
  proposals: Proposal[],
  masked: number[][],
  predictions: RowPrediction[][],
): { rows: Row[]; proposals: Proposal[] } {
  const plan: Continuation[] =
    setup.select?.(
      proposals.map((p) => p.firstPassScore),
      proposals.map((p) => p.wantsEmpty),
    ) ?? open.map((_, from) => ({ from }));
  const used = new Set<number>();
  const rows = plan.map(({ from, options }) => {
    if (!options && !used.has(from)) {
      used.add(from);
      return open[from];
    }
    return cloneRow(open[from], options);
  });
  const kept = rows.map((r, k) => {
    const b = plan[k].from;
    return r === open[b] ? proposals[b] : proposeStep(setup, r, byIndex(masked[b], predictions[b]));
  });
  rows.forEach((r, k) => (r.firstPassScore = kept[k].firstPassScore));
  return { rows, proposals: kept };
}

function byIndex(
  masked: readonly number[],
  predictions: readonly RowPrediction[],
): Map<number, RowPrediction> {
  return new Map(masked.map((i, j) => [i, predictions[j]]));
}

/** The end rule shapes this step's proposals: one candidate per open position, plus the tail decision. */
function proposeStep(
  setup: BatchDenoiseSetup,
  row: Row,
  predictions: ReadonlyMap<number, RowPrediction>,
): { candidates: Candidate[]; tail?: Candidate; firstPassScore: number; wantsEmpty: boolean } {
  const { state, options } = row.spec;
  const isEnd = (t: number) => state.isEnd(t);
  const plan = planEnds(state, predictions, options.endRule, options.threshold);
  const candidates: Candidate[] = [];
  for (const [index, prediction] of predictions) {
    if (index === plan.tail?.index || plan.covered(index)) {
      continue;
    }
    const shaped = plan.allowsEnd(index) ? prediction : withoutEnds(prediction, isEnd);
    candidates.push(proposeCandidate(index, shaped, options.temperature, row.random));
  }
  if (plan.tail) {
    candidates.push(plan.tail);
  }
  return {
    candidates,
    tail: plan.tail,
    firstPassScore: firstPassScore(candidates, plan.tail, options.lengthRule),
    /** The sure tail starts at the first position: this canvas would end up empty. */
    wantsEmpty: plan.tail?.index === 0,
  };
}

function commitStep(
  setup: BatchDenoiseSetup,
  row: Row,
  candidates: Candidate[],
  tail: Candidate | undefined,
): void {
  const { state, options } = row.spec;
  const { chosen, deferred } = selectCommits(candidates, {
    state,
    options,
    pieces: setup.pieces,
    hasLeftContext: row.spec.hasLeftContext,
    hasRightContext: row.spec.hasRightContext,
    stepsTaken: row.steps,
    refilling: row.refilling,
    tail,
    deferred: row.deferred,
  });
  for (const c of chosen) {
    state.commit(c.index, c.token, c.confidence);
  }
  state.fillAfterFirstEnd();
  row.deferred = deferred;
  row.steps++;
}

/**
 * A canvas with no masks left is done, unless guarded late remasking re-opens some of its positions
 * (at most REVIEW_ROUNDS times, each position at most MAX_REMASKS_PER_POSITION times).
 */
function reviewIfFinished(setup: BatchDenoiseSetup, row: Row): void {
  const { state, options } = row.spec;
  if (state.masksLeft > 0) {
    return;
  }
  if (options.strategy !== 'guarded' || row.reviews >= REVIEW_ROUNDS) {
    row.done = true;
    return;
  }
  row.reviews++;
  const cap = remaskCap(state.length);
  const lowConfidence = options.remaskLowConfidence ? lowConfidencePositions(state, REMASK_FLOOR, cap) : [];
  let parseErrors: number[] = [];
  if (options.remaskParseErrors && setup.parseErrors && lowConfidence.length < cap) {
    const taken = new Set(lowConfidence);
    parseErrors = parseErrorPositions(state, setup.parseErrors(state.completionTokens()), cap)
      .filter((i) => !taken.has(i))
      .slice(0, cap - lowConfidence.length);
  }
  row.remaskedLowConfidence += lowConfidence.length;
  row.remaskedParseErrors += parseErrors.length;
  const all = [...lowConfidence, ...parseErrors];
  if (all.length === 0) {
    row.done = true;
    return;
  }
  all.forEach((i) => state.remask(i));
  row.refilling = true;
}

/** Upper bound on steps: one commit per step, plus the positions late remasking may re-open. */
export function maxSteps(options: SamplerOptions, canvasLength: number): number {
  if (options.strategy !== 'guarded' || !(options.remaskLowConfidence || options.remaskParseErrors)) {
    return canvasLength;
  }
  const reopened = Math.min(canvasLength * MAX_REMASKS_PER_POSITION, remaskCap(canvasLength) * REVIEW_ROUNDS);
  return canvasLength + reopened;
}

// --- one canvas ----------------------------------------------------------------------------------

export interface DenoiseSetup {
  state: CanvasState;
  hasLeftContext: boolean;
  hasRightContext: boolean;
  predict: PositionPredictor;
  options: SamplerOptions;
  pieces: TokenPieces;
  parseErrors?: (completion: number[]) => number[];
  isCancelled?: () => boolean;
  betweenSteps?: () => Promise<void>;
  onStep?: (progress: StepProgress) => void;
  now?: () => number;
}

export interface DenoiseOutcome {
  steps: number;
  nfe: number;
  firstFrameMs: number;
  ms: number;
  score: number;
  /** Positions re-masked by late remasking, by reason. */
  remaskedLowConfidence: number;
  remaskedParseErrors: number;
}

/** Decodes one canvas (a batch of one). */
export async function denoise(setup: DenoiseSetup): Promise<DenoiseOutcome> {
  const out = await denoiseBatch({
    ...setup,
    canvases: [
      {
        state: setup.state,
        hasLeftContext: setup.hasLeftContext,
        hasRightContext: setup.hasRightContext,
        options: setup.options,
      },
    ],
    predict: liftPredictor(setup.predict),
  });
  const c = out.canvases[0];
  return {
    steps: c.steps,
    nfe: out.nfe,
    firstFrameMs: out.firstFrameMs,
    ms: out.ms,
    score: c.score,
    remaskedLowConfidence: c.remaskedLowConfidence,
    remaskedParseErrors: c.remaskedParseErrors,
  };
}

/** A one-row predictor as a batch predictor (one call per row; a batch of one is one call). */
export function liftPredictor(predict: PositionPredictor): BatchPredictor {
  return async (batch) => {
    const out: RowPrediction[][] = [];
    for (const row of batch) {
      out.push(await predict(row.inputIds, row.positions));
    }
    return out;
  };
}
