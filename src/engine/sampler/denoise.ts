// The denoising loop: one forward pass per step over the whole window, proposals for the eligible
// masked positions, a strategy picks which to commit. Always commits at least one position per step,
// so it terminates; yields between steps so a cancel message can arrive; counts forward passes (NFE).
import { AbortError } from '../errors';
import type { PositionPredictor } from '../predictor';
import type { RowPrediction } from '../topk';
import type { SamplerOptions } from '../protocol';
import { proposeCandidate, type Candidate } from './candidates';
import type { CanvasState } from './canvas';
import { dependent, type GuardView } from './guard';
import { selectGuarded } from './guarded';
import { seededRandom } from './prng';
import { contextDistances, currentBlock, priorBonus } from './prior';
import {
  lowConfidencePositions,
  MAX_REMASKS_PER_POSITION,
  parseErrorPositions,
  REMASK_FLOOR,
  remaskCap,
  REVIEW_ROUNDS,
} from './remask';
import {
  certaintyKey,
  scheduleK,
  selectEntropyBounded,
  selectSequential,
  selectThreshold,
  selectTopK,
} from './strategies';
import { isStructuralPiece, type TokenPieces } from './token-classes';

export interface StepProgress {
  step: number;
  nfe: number;
  masksLeft: number;
  elapsedMs: number;
}

export interface DenoiseSetup {
  state: CanvasState;
  /** Whether a token precedes / follows the canvas (prefix or lead token / suffix). */
  hasLeftContext: boolean;
  hasRightContext: boolean;
  predict: PositionPredictor;
  options: SamplerOptions;
  pieces: TokenPieces;
  /** Canvas indices of completion tokens inside parse errors; absent when no grammar is available. */
  parseErrors?: (completion: number[]) => number[];
  isCancelled?: () => boolean;
  /** Awaited between steps (the engine process yields a macrotask here so messages get handled). */
  betweenSteps?: () => Promise<void>;
  onStep?: (progress: StepProgress) => void;
  now?: () => number;
}

export interface DenoiseOutcome {
  steps: number;
  nfe: number;
  firstFrameMs: number;
  ms: number;
  /** Positions re-masked by late remasking, by reason. */
  remaskedLowConfidence: number;
  remaskedParseErrors: number;
}

export async function denoise(setup: DenoiseSetup): Promise<DenoiseOutcome> {
  const { state, options } = setup;
  const now = setup.now ?? (() => performance.now());
  const t0 = now();
  const random = seededRandom(options.seed);
  const guarded = options.strategy === 'guarded';
  let step = 0;
  let nfe = 0;
  let firstFrameMs = 0;
  let reviews = 0;
  /** After a review, the re-masked positions sit in finished context: refill them all at once (guard permitting). */
  let refilling = false;
  let remaskedLowConfidence = 0;
  let remaskedParseErrors = 0;

  for (;;) {
    if (setup.isCancelled?.()) {
      throw new AbortError();
    }
    const masked = state.maskedIndices();
    if (masked.length === 0) {
      if (!guarded || reviews >= REVIEW_ROUNDS) {
        break;
      }
      reviews++;
      const review = reviewPositions(setup);
      remaskedLowConfidence += review.lowConfidence.length;
      remaskedParseErrors += review.parseErrors.length;
      const all = [...review.lowConfidence, ...review.parseErrors];
      if (all.length === 0) {
        break;
      }
      all.forEach((i) => state.remask(i));
      refilling = true;
      continue;
    }

    const eligible = currentBlock(masked, options.blockSize);
    const predictions = await setup.predict(
      state.inputIds,
      eligible.map((i) => state.start + i),
    );
    nfe++;
    const candidates = eligible.map((index, j) =>
      proposeCandidate(index, endPolicy(setup, index, predictions[j]), options.temperature, random),
    );
    const chosen = selectCandidates(setup, candidates, masked.length, step, refilling);
    for (const c of chosen) {
      state.commit(c.index, c.token, c.confidence);
    }
    state.fillAfterFirstEnd();
    step++;
    const elapsedMs = now() - t0;
    if (step === 1) {
      firstFrameMs = elapsedMs;
    }
    setup.onStep?.({ step, nfe, masksLeft: state.masksLeft, elapsedMs });
    await setup.betweenSteps?.();
  }
  return { steps: step, nfe, firstFrameMs, ms: now() - t0, remaskedLowConfidence, remaskedParseErrors };
}

/**
 * With `endAtTailOnly`, end tokens are removed from the proposals of a position unless the whole canvas
 * after it is already end (a completion never has end tokens in its middle). A row whose top-k holds
 * nothing else keeps its prediction, so there is always a proposal.
 */
function endPolicy(setup: DenoiseSetup, index: number, prediction: RowPrediction): RowPrediction {
  const { state, options } = setup;
  if (!options.endAtTailOnly || state.endTailStartsAfter(index)) {
    return prediction;
  }
  const keep = prediction.ids.map((id) => !state.isEnd(id));
  if (!keep.some(Boolean)) {
    return prediction;
  }
  return {
    ids: prediction.ids.filter((_, i) => keep[i]),
    probs: prediction.probs.filter((_, i) => keep[i]),
    entropy: prediction.entropy,
  };
}

/** Upper bound on steps: one commit per step, plus the positions late remasking may re-open. */
export function maxSteps(options: SamplerOptions, canvasLength: number): number {
  if (options.strategy !== 'guarded' || !(options.remaskLowConfidence || options.remaskParseErrors)) {
    return canvasLength;
  }
  const reopened = Math.min(canvasLength * MAX_REMASKS_PER_POSITION, remaskCap(canvasLength) * REVIEW_ROUNDS);
  return canvasLength + reopened;
}

/** Applies the configured strategy; never returns an empty list for a non-empty candidate list. */
export function selectCandidates(
  setup: DenoiseSetup,
  candidates: Candidate[],
  masksLeft: number,
  stepsTaken: number,
  refilling = false,
): Candidate[] {
  const { options } = setup;
  const k = () => Math.min(candidates.length, scheduleK(masksLeft, options.steps - stepsTaken));
  switch (options.strategy) {
    case 'confidence':
    case 'margin':
    case 'entropy':
      return selectTopK(candidates, k(), certaintyKey[options.strategy]);
    case 'threshold':
      return selectThreshold(candidates, options.threshold);
    case 'entropy-bounded':
      return selectEntropyBounded(candidates, options.entropyBound);
    case 'sequential':
      return selectSequential(candidates);
    case 'guarded':
      return selectGuardedCandidates(setup, candidates, refilling ? 0 : options.threshold);
  }
}

function selectGuardedCandidates(
  setup: DenoiseSetup,
  candidates: Candidate[],
  threshold: number,
): Candidate[] {
  const { state, options, pieces } = setup;
  const masked = Array.from({ length: state.length }, (_, i) => state.isMasked(i));
  const distances = options.positionPrior
    ? contextDistances(masked, setup.hasLeftContext, setup.hasRightContext)
    : [];
  const view: GuardView = {
    committed: (i) => (state.isMasked(i) ? undefined : state.token(i)),
    piece: (t) => pieces.piece(t),
    isEnd: (t) => state.isEnd(t),
    certainty: options.guardCertainty,
  };
  return selectGuarded(candidates, {
    threshold,
    bonus: (c) =>
      options.positionPrior ? priorBonus(distances[c.index], isStructuralPiece(pieces.piece(c.token))) : 0,
    dependent: (a, b) => options.dependencyGuard && dependent(a, b, view),
  });
}

function reviewPositions(setup: DenoiseSetup): { lowConfidence: number[]; parseErrors: number[] } {
  const { state, options } = setup;
  const cap = remaskCap(state.length);
  const lowConfidence = options.remaskLowConfidence ? lowConfidencePositions(state, REMASK_FLOOR, cap) : [];
  let parseErrors: number[] = [];
  if (options.remaskParseErrors && setup.parseErrors && lowConfidence.length < cap) {
    const taken = new Set(lowConfidence);
    parseErrors = parseErrorPositions(state, setup.parseErrors(state.completionTokens()), cap)
      .filter((i) => !taken.has(i))
      .slice(0, cap - lowConfidence.length);
  }
  return { lowConfidence, parseErrors };
}
