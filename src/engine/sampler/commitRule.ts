// The commit rule, in one place: which of a step's candidates (one per open masked position, plus the
// end rule's tail decision) are committed. Every rule commits at least one candidate, so decoding
// always makes progress.
//
// Three pieces apply to every strategy:
// - Blocks are a priority, not a wall: the candidates of the leftmost block that still has masks,
//   plus the tail decision, are always eligible; a candidate outside that block is eligible only when
//   it is sure (confidence >= τ). An unsure model is steered left to right (semi-autoregressive, for
//   long holes), a sure one commits wherever it is sure, and the end can go anywhere, so a block never
//   makes a completion longer than the model wants.
// - Sure commits: under the top-k schedules every eligible candidate with confidence >= τ commits as
//   well, so the schedule is a floor on progress, not a ceiling. (Fast-dLLM: positions whose marginals
//   are all near 1 decode the same in parallel as one by one.) Threshold and guarded have this rule
//   built in; entropy-bounded keeps its own bound; sequential stays one per step (the reference).
// - The dependency guard (guarded) holds back one of two confident neighbours that could form one
//   token sequence the model never meant (docs/diffusion.md §4). It may hold a candidate back once:
//   a candidate it deferred while confident is exempt in the next step, when it has been predicted
//   again with its neighbour committed and visible. So the guard costs a confident hole at most one
//   extra pass and cannot serialise it by itself.
import type { SamplerOptions } from '../protocol';
import type { Candidate } from './candidates';
import type { CanvasState } from './canvas';
import { dependent, type GuardView } from './guard';
import { selectGuarded } from './guarded';
import { contextDistances, priorBonus } from './prior';
import {
  certaintyKey,
  scheduleK,
  selectEntropyBounded,
  selectSequential,
  selectThreshold,
  selectTopK,
  sortByKey,
} from './strategies';
import { isStructuralPiece, type TokenPieces } from './token-classes';

export interface CommitContext {
  state: CanvasState;
  options: SamplerOptions;
  pieces: TokenPieces;
  hasLeftContext: boolean;
  hasRightContext: boolean;
  /** Steps this canvas has taken (top-k schedules). */
  stepsTaken: number;
  /** After a late-remasking review: refill the re-masked positions at once (guard permitting). */
  refilling: boolean;
  /** The end rule's tail decision this step, if any (always eligible). */
  tail?: Candidate;
  /** Canvas indices the guard deferred in the previous step (exempt this step). */
  deferred: ReadonlySet<number>;
}

export interface CommitChoice {
  chosen: Candidate[];
  /** Candidates the guard held back although confident (exempt from it next step). */
  deferred: Set<number>;
}

export function selectCommits(candidates: readonly Candidate[], ctx: CommitContext): CommitChoice {
  const { options, tail } = ctx;
  const pool = eligible(candidates, ctx);
  const deferred = new Set<number>();
  const content = pool.filter((c) => c !== tail);
  if (!tail || content.length === 0) {
    return { chosen: pickByStrategy(pool, ctx, deferred), deferred };
  }
  // The tail decision is sure by construction (endRule.ts): it commits on top of the strategy's pick,
  // which is made among the content candidates, so the progress pick is never spent on the end (a
  // weak model sure of ends everywhere would otherwise end a one-per-step decoding before any content).
  const chosen = pickByStrategy(content, ctx, deferred);
  if (options.strategy === 'guarded') {
    const rule = guardedRule(ctx, deferred);
    if (chosen.some((c) => rule.dependent(c, tail))) {
      rule.onDeferred(tail);
      return { chosen, deferred };
    }
  }
  return { chosen: [...chosen, tail], deferred };
}

function pickByStrategy(pool: Candidate[], ctx: CommitContext, deferred: Set<number>): Candidate[] {
  const { options } = ctx;
  const tau = options.threshold;
  switch (options.strategy) {
    case 'confidence':
    case 'margin':
    case 'entropy': {
      const k = Math.min(pool.length, scheduleK(ctx.state.masksLeft, options.steps - ctx.stepsTaken));
      return union(
        selectTopK(pool, k, certaintyKey[options.strategy]),
        pool.filter((c) => c.confidence >= tau),
      );
    }
    case 'threshold':
      return selectThreshold(pool, tau);
    case 'entropy-bounded':
      return selectEntropyBounded(pool, options.entropyBound);
    case 'sequential':
      return selectSequential(pool);
    case 'guarded':
      return selectGuarded(pool, guardedRule(ctx, deferred));
  }
}

/** The leftmost open block's candidates and the tail decision, plus any sure candidate elsewhere. */
function eligible(candidates: readonly Candidate[], ctx: CommitContext): Candidate[] {
  const { blockSize, threshold } = ctx.options;
  if (blockSize <= 0 || candidates.length === 0) {
    return [...candidates];
  }
  const first = Math.min(...candidates.filter((c) => c !== ctx.tail).map((c) => c.index));
  const block = Math.floor(first / blockSize);
  const pool = candidates.filter(
    (c) => c === ctx.tail || Math.floor(c.index / blockSize) === block || c.confidence >= threshold,
  );
  return pool.length > 0 ? pool : [...candidates];
}

function union(a: Candidate[], b: Candidate[]): Candidate[] {
  const seen = new Set(a);
  return sortByKey([...a, ...b.filter((c) => !seen.has(c))], certaintyKey.confidence);
}

function guardedRule(ctx: CommitContext, deferred: Set<number>) {
  const { state, options, pieces } = ctx;
  const masked = Array.from({ length: state.length }, (_, i) => state.isMasked(i));
  const distances = options.positionPrior
    ? contextDistances(masked, ctx.hasLeftContext, ctx.hasRightContext)
    : [];
  const view: GuardView = {
    committed: (i) => (state.isMasked(i) ? undefined : state.token(i)),
    piece: (t) => pieces.piece(t),
    isEnd: (t) => state.isEnd(t),
    certainty: options.guardCertainty,
  };
  const exempt = (c: Candidate) => ctx.deferred.has(c.index);
  return {
    threshold: ctx.refilling ? 0 : options.threshold,
    bonus: (c: Candidate) =>
      options.positionPrior ? priorBonus(distances[c.index], isStructuralPiece(pieces.piece(c.token))) : 0,
    dependent: (a: Candidate, b: Candidate) =>
      options.dependencyGuard && !exempt(a) && !exempt(b) && dependent(a, b, view),
    onDeferred: (c: Candidate) => deferred.add(c.index),
  };
}
