// The engine proper: a loaded model (manifest, tokenizer, ONNX session) that turns an infill request
// into a completion, reporting snapshots as it refines. Runs in the engine child process and, unchanged,
// in-process in the CLI and the benchmarks.
import { EngineError } from './errors';
import { loadManifest, type ModelManifest } from './manifest';
import { batchPredictor, positionPredictor, type BatchPredictor, type PositionPredictor } from './predictor';
import type {
  InfillCandidate,
  InfillRequest,
  InfillResult,
  LoadOptions,
  ModelInfo,
  SamplerOptions,
  Snapshot,
} from './protocol';
import { buildWindow, canvasLength, stripMovedWhitespace, type InfillWindow } from './window';
import { CanvasState } from './sampler/canvas';
import {
  denoiseBatch,
  liftPredictor,
  maxSteps,
  type CanvasOutcome,
  type CanvasSpec,
} from './sampler/denoise';
import { candidateLengths, planContinuations } from './sampler/lengths';
import { resolveSamplerOptions } from './sampler/options';
import { tokenSpans, tokensInRanges } from './sampler/spans';
import { ModelSession, type SessionOptions } from './session';
import { leadingContextRequired } from './shift';
import { SyntaxChecker } from './syntax';
import { CodeTokenizer } from './tokenizer';
import { CanvasTracer } from './trace';

export const DEFAULT_PLACEHOLDER = '·';

export interface EngineLoadOptions extends LoadOptions, Pick<SessionOptions, 'forceFp32'> {
  /** Run the manifest's full-logits graph instead of the default one (tests, debugging). */
  useFullLogitsGraph?: boolean;
}

export interface InfillHooks {
  onSnapshot?: (snapshot: Snapshot) => void;
  isCancelled?: () => boolean;
  betweenSteps?: () => Promise<void>;
  /** The visualiser opened after the request started: trace from the next step on. */
  isTraced?: () => boolean;
}

/** Grammars worth loading before the first request (the rest load on first use). */
const PRELOADED_GRAMMARS = ['python', 'typescript', 'javascript'];

/**
 * onnxruntime allocates its buffers on the first run; doing one short pass at load keeps that out of
 * the user's first infill. Grammars of the model's languages start loading in the background too.
 */
async function warmUp(session: ModelSession, manifest: ModelManifest): Promise<void> {
  const ids = new Array<number>(Math.min(16, manifest.maxLength)).fill(manifest.specialTokens.mask);
  await session.forward(ids, [ids.length - 1]);
  for (const language of manifest.languages.filter((l) => PRELOADED_GRAMMARS.includes(l))) {
    SyntaxChecker.forLanguage(language).catch(() => undefined);
  }
}

function roundScore(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Error ranges wider than this (beyond the canvas) blame the surroundings, not the canvas. */
const MAX_ERROR_OVERHANG_CHARS = 80;

export class InfillEngine {
  private constructor(
    readonly manifest: ModelManifest,
    readonly tokenizer: CodeTokenizer,
    /** The ONNX session (Diagnose Device times it). */
    readonly session: ModelSession,
    readonly info: ModelInfo,
    /** Token positions -> predictions; tests wrap it to record calls (then batches run row by row). */
    public predict: PositionPredictor,
    /** The session's own predictors, one row and batched. */
    private readonly sessionPredict: PositionPredictor,
    private readonly predictBatch: BatchPredictor,
  ) {}

  static async load(options: EngineLoadOptions): Promise<InfillEngine> {
    const t0 = performance.now();
    const manifest = loadManifest(options.modelDir);
    const tokenizer = CodeTokenizer.forManifest(manifest);
    const session = await ModelSession.create(manifest, options);
    await warmUp(session, manifest);
    const info: ModelInfo = {
      name: manifest.name,
      modelDir: manifest.dir,
      vocabSize: manifest.vocabSize,
      maxLength: manifest.maxLength,
      executionProvider: session.provider,
      // With 'auto', not finding a GPU is the expected case on many machines, not a failure to report.
      fallbackReason: options.executionProvider === 'auto' ? undefined : session.fallbackReason,
      providerNote:
        [options.executionProvider === 'auto' ? session.fallbackReason : undefined, ...session.device.notes]
          .filter((n) => n)
          .join('; ') || undefined,
      attempts: session.device.attempts,
      adapter: session.device.adapter,
      precision: session.device.precision,
      inferredManifest: manifest.inferred
        ? `no model.json; inferred: ${manifest.inferred.join(', ')}`
        : undefined,
      loadMs: Math.round(performance.now() - t0),
    };
    const predict = positionPredictor(session, manifest.logitShift);
    return new InfillEngine(
      manifest,
      tokenizer,
      session,
      info,
      predict,
      predict,
      batchPredictor(session, manifest.logitShift),
    );
  }

  buildWindow(request: Omit<InfillRequest, 'id'>): InfillWindow {
    const special = this.manifest.specialTokens;
    return buildWindow(this.tokenizer, request, {
      maxLength: this.manifest.maxLength,
      maskId: special.mask,
      leadTokenId: special.bos ?? special.eos ?? special.pad,
      leadingContext: leadingContextRequired(this.manifest.logitShift),
    });
  }

  async infill(request: InfillRequest, hooks: InfillHooks = {}): Promise<InfillResult> {
    const t0 = performance.now();
    if (typeof request.prefix !== 'string' || typeof request.suffix !== 'string') {
      throw new EngineError('bad-request', 'prefix and suffix must be strings');
    }
    const options = resolveSamplerOptions(request.sampler);
    const { window, lengths } = this.searchWindow(request, options);
    const notes = [...window.notes];
    const special = this.manifest.specialTokens;
    const ends = new Set([special.end, special.pad, ...(special.eos !== undefined ? [special.eos] : [])]);
    // Every candidate length shares one window (batch rows must be equal length): a shorter canvas is
    // followed by end tokens up to the longest, as a canvas whose tail has ended looks anyway.
    const canvases: CanvasSpec[] = lengths.map((m) => {
      const ids = [...window.inputIds];
      ids.fill(special.end, window.canvasStart + m, window.canvasStart + window.canvasLength);
      return {
        state: new CanvasState(ids, window.canvasStart, m, { mask: special.mask, ends }),
        hasLeftContext: window.canvasStart > 0,
        hasRightContext: window.canvasStart + m < ids.length,
        options,
      };
    });
    const parseErrors = await this.parseErrorFinder(request, window, notes);
    const placeholder = request.placeholder ?? DEFAULT_PLACEHOLDER;
    const interval = request.snapshotIntervalMs ?? 0;
    let tracer =
      request.trace && hooks.onSnapshot ? new CanvasTracer(canvases[0].state, this.tokenizer) : undefined;
    let lastSentMs = -Infinity;
    let lastSentStep = -1;
    let nfe = 0;
    const send = (step: number, elapsedMs: number, lead: CanvasState) => {
      lastSentMs = elapsedMs;
      lastSentStep = step;
      if (!hooks.onSnapshot) {
        return; // nobody watching (batch, bench): skip rendering
      }
      hooks.onSnapshot({
        requestId: request.id,
        step,
        maxSteps: maxSteps(options, lead.length),
        text: stripMovedWhitespace(this.renderCanvas(lead, placeholder), window.movedWhitespace),
        masksLeft: lead.masksLeft,
        canvasLength: lead.length,
        nfe,
        elapsedMs: Math.round(elapsedMs),
        ...(tracer ? { trace: tracer.take() } : {}),
      });
    };
    const denoiseStart = performance.now();
    let lead = canvases[0].state;
    const outcome = await denoiseBatch({
      canvases,
      predict: this.predict === this.sessionPredict ? this.predictBatch : liftPredictor(this.predict),
      pieces: this.tokenizer,
      parseErrors,
      select: (scores, wantsEmpty) => planContinuations(scores, lengths, options, wantsEmpty),
      isCancelled: hooks.isCancelled,
      betweenSteps: hooks.betweenSteps,
      onStep: (progress) => {
        nfe = progress.nfe;
        if (!tracer && hooks.onSnapshot && hooks.isTraced?.()) {
          tracer = new CanvasTracer(progress.lead, this.tokenizer, progress.step);
        } else if (tracer && tracer.state !== progress.lead) {
          // The length search continued with another canvas: trace that one from here on.
          tracer = new CanvasTracer(progress.lead, this.tokenizer, tracer.from, progress.step);
        }
        tracer?.observe(progress.step);
        lead = progress.lead;
        const elapsed = performance.now() - t0;
        if (elapsed - lastSentMs >= interval) {
          send(progress.step, elapsed, lead);
        }
      },
    });
    const decoded = this.candidatesOf(outcome.canvases, window.movedWhitespace, options.unsureBelow);
    const best = decoded[0];
    // Snapshots follow one canvas (the lead); with several candidates the result's best may be another.
    if (lastSentStep !== outcome.nfe) {
      send(outcome.nfe, performance.now() - t0, lead);
    }
    if (best.outcome.remaskedLowConfidence + best.outcome.remaskedParseErrors > 0) {
      notes.push(
        `re-masked ${best.outcome.remaskedLowConfidence} low-confidence and ${best.outcome.remaskedParseErrors} parse-error tokens`,
      );
    }
    if (lengths.length > 1) {
      notes.push(`length search: ${lengths.join(', ')} tokens tried, ${best.state.length} chosen`);
    }
    return {
      requestId: request.id,
      completion: best.candidate.completion,
      nfe: outcome.nfe,
      nfeRows: outcome.nfeRows,
      steps: best.outcome.steps,
      canvasLength: best.state.length,
      tokens: best.candidate.tokens,
      confidence: best.candidate.confidence,
      unsure: best.candidate.unsure,
      candidates: decoded.map((d) => d.candidate),
      lengths: lengths.map((tokens, i) => ({ tokens, score: roundScore(outcome.firstPassScores[i]) })),
      firstFrameMs: Math.round(denoiseStart - t0 + outcome.firstFrameMs),
      ms: Math.round(performance.now() - t0),
      notes,
    };
  }

  /**
   * The window for a request and the canvas lengths to try in it. An explicit canvasTokens is taken
   * as given; otherwise the sized canvas plus the length search's candidates, in a window sized for
   * the longest (clipped to what fits).
   */
  private searchWindow(
    request: Omit<InfillRequest, 'id'>,
    options: SamplerOptions,
  ): { window: InfillWindow; lengths: number[] } {
    const sized = this.buildWindow(request);
    if (request.canvasTokens !== undefined || options.lengthCandidates <= 1) {
      return { window: sized, lengths: [sized.canvasLength] };
    }
    const own = canvasLength(request, sized.selectionTokens);
    const whitespace = Math.max(0, sized.canvasLength - own);
    const base = (sized.selectionTokens > 0 ? sized.selectionTokens : own) + whitespace;
    const wanted = candidateLengths(sized.canvasLength, base, options.lengthCandidates, Infinity);
    const window = this.buildWindow({ ...request, canvasTokens: Math.max(...wanted) });
    const lengths = [...new Set(wanted.map((m) => Math.min(m, window.canvasLength)))];
    return { window, lengths };
  }

  /**
   * Distinct completions: the lead canvas first (the one the preview refined, best after the first
   * pass), then the others by score, so the preview does not jump to another text when it finishes.
   */
  private candidatesOf(
    canvases: CanvasOutcome[],
    movedWhitespace: string,
    unsureBelow: number,
  ): { candidate: InfillCandidate; state: CanvasState; outcome: CanvasOutcome }[] {
    const seen = new Set<string>();
    const [lead, ...rest] = canvases;
    return [lead, ...rest.sort((a, b) => b.score - a.score)]
      .map((outcome) => {
        const ids = outcome.state.completionTokens();
        const confidence = Math.exp(outcome.score);
        const candidate: InfillCandidate = {
          completion: stripMovedWhitespace(this.tokenizer.decode(ids), movedWhitespace),
          confidence: roundScore(confidence),
          unsure: confidence < unsureBelow,
          canvasLength: outcome.state.length,
          tokens: ids.length,
        };
        return { candidate, state: outcome.state, outcome };
      })
      .filter(
        ({ candidate }) => !seen.has(candidate.completion) && seen.add(candidate.completion) !== undefined,
      );
  }

  /** Canvas text up to the first end token, masked positions shown as the placeholder. */
  renderCanvas(state: CanvasState, placeholder: string): string {
    const ids = state.completionTokens();
    let text = '';
    let run: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (state.isMasked(i)) {
        text += this.tokenizer.decode(run) + placeholder;
        run = [];
      } else {
        run.push(ids[i]);
      }
    }
    return text + this.tokenizer.decode(run);
  }

  private async parseErrorFinder(
    request: InfillRequest,
    window: InfillWindow,
    notes: string[],
  ): Promise<((completion: number[]) => number[]) | undefined> {
    const strategy = request.sampler?.strategy ?? 'guarded';
    if (strategy !== 'guarded' || request.sampler?.remaskParseErrors === false || !request.languageId) {
      return undefined;
    }
    let checker: SyntaxChecker | undefined;
    try {
      checker = await SyntaxChecker.forLanguage(request.languageId);
    } catch (err) {
      notes.push(`parse-error remasking off: ${(err as Error).message}`);
      return undefined;
    }
    if (!checker) {
      return undefined;
    }
    const decode = (ids: readonly number[]) => this.tokenizer.decode(ids as number[]);
    return (completion) => {
      const canvasText = decode(completion);
      const start = window.prefixText.length;
      const end = start + canvasText.length;
      const ranges = checker
        .errorRanges(window.prefixText + canvasText + window.suffixText)
        .filter((r) => r.start <= end && r.end >= start)
        .filter((r) => r.end - r.start <= canvasText.length + 2 * MAX_ERROR_OVERHANG_CHARS)
        .map((r) => ({ start: r.start - start, end: r.end - start }));
      return ranges.length === 0 ? [] : tokensInRanges(tokenSpans(completion, decode), ranges);
    };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
