// The engine proper: a loaded model (manifest, tokenizer, ONNX session) that turns an infill request
// into a completion, reporting snapshots as it refines. Runs in the engine child process and, unchanged,
// in-process in the CLI and the benchmarks.
import { EngineError } from './errors';
import { loadManifest, type ModelManifest } from './manifest';
import { positionPredictor, type PositionPredictor } from './predictor';
import type { InfillRequest, InfillResult, LoadOptions, ModelInfo, Snapshot } from './protocol';
import { buildWindow, stripMovedWhitespace, type InfillWindow } from './window';
import { CanvasState } from './sampler/canvas';
import { denoise, maxSteps } from './sampler/denoise';
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

/** Error ranges wider than this (beyond the canvas) blame the surroundings, not the canvas. */
const MAX_ERROR_OVERHANG_CHARS = 80;

export class InfillEngine {
  private constructor(
    readonly manifest: ModelManifest,
    readonly tokenizer: CodeTokenizer,
    /** The ONNX session (Diagnose Device times it). */
    readonly session: ModelSession,
    readonly info: ModelInfo,
    /** Token positions -> predictions; tests wrap it to record calls. */
    public predict: PositionPredictor,
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
    return new InfillEngine(
      manifest,
      tokenizer,
      session,
      info,
      positionPredictor(session, manifest.logitShift),
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
    const window = this.buildWindow(request);
    const notes = [...window.notes];
    const special = this.manifest.specialTokens;
    const ends = new Set([special.end, special.pad, ...(special.eos !== undefined ? [special.eos] : [])]);
    const state = new CanvasState([...window.inputIds], window.canvasStart, window.canvasLength, {
      mask: special.mask,
      ends,
    });
    const parseErrors = await this.parseErrorFinder(request, window, notes);
    const placeholder = request.placeholder ?? DEFAULT_PLACEHOLDER;
    const interval = request.snapshotIntervalMs ?? 0;
    let tracer = request.trace && hooks.onSnapshot ? new CanvasTracer(state, this.tokenizer) : undefined;
    let lastSentMs = -Infinity;
    let lastSentStep = -1;
    let nfe = 0;
    const send = (step: number, elapsedMs: number) => {
      lastSentMs = elapsedMs;
      lastSentStep = step;
      if (!hooks.onSnapshot) {
        return; // nobody watching (batch, bench): skip rendering
      }
      hooks.onSnapshot({
        requestId: request.id,
        step,
        maxSteps: maxSteps(options, window.canvasLength),
        text: stripMovedWhitespace(this.renderCanvas(state, placeholder), window.movedWhitespace),
        masksLeft: state.masksLeft,
        canvasLength: window.canvasLength,
        nfe,
        elapsedMs: Math.round(elapsedMs),
        ...(tracer ? { trace: tracer.take() } : {}),
      });
    };
    const denoiseStart = performance.now();
    const outcome = await denoise({
      state,
      hasLeftContext: window.canvasStart > 0,
      hasRightContext: window.canvasStart + window.canvasLength < window.inputIds.length,
      predict: this.predict,
      options,
      pieces: this.tokenizer,
      parseErrors,
      isCancelled: hooks.isCancelled,
      betweenSteps: hooks.betweenSteps,
      onStep: (progress) => {
        nfe = progress.nfe;
        if (!tracer && hooks.onSnapshot && hooks.isTraced?.()) {
          tracer = new CanvasTracer(state, this.tokenizer, progress.step);
        }
        tracer?.observe(progress.step);
        const elapsed = performance.now() - t0;
        if (elapsed - lastSentMs >= interval) {
          send(progress.step, elapsed);
        }
      },
    });
    if (lastSentStep !== outcome.steps) {
      send(outcome.steps, performance.now() - t0);
    }
    if (outcome.remaskedLowConfidence + outcome.remaskedParseErrors > 0) {
      notes.push(
        `re-masked ${outcome.remaskedLowConfidence} low-confidence and ${outcome.remaskedParseErrors} parse-error tokens`,
      );
    }
    const completionIds = state.completionTokens();
    return {
      requestId: request.id,
      completion: stripMovedWhitespace(this.tokenizer.decode(completionIds), window.movedWhitespace),
      nfe: outcome.nfe,
      steps: outcome.steps,
      canvasLength: window.canvasLength,
      tokens: completionIds.length,
      firstFrameMs: Math.round(denoiseStart - t0 + outcome.firstFrameMs),
      ms: Math.round(performance.now() - t0),
      notes,
    };
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
