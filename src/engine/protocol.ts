// Typed messages between the extension host (or CLI) and the engine child process.
// Both sides import this file; nothing here may import `vscode` or native modules.

export type StrategyName =
  | 'confidence' // top-k by p(top1) on a linear schedule
  | 'margin' // top-k by p1 - p2
  | 'entropy' // top-k by lowest entropy
  | 'threshold' // Fast-dLLM: best position plus every position with confidence >= tau
  | 'entropy-bounded' // EB-sampler: largest low-entropy prefix with sum(H) - max(H) <= gamma
  | 'guarded' // threshold + dependency guard + structure-aware prior + late remasking (our default)
  | 'sequential'; // one token per step, most confident first (the quality reference)

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml';

export interface SamplerOptions {
  strategy: StrategyName;
  /** Step budget for the top-k schedules (confidence/margin/entropy). */
  steps: number;
  /** Fast-dLLM confidence threshold tau. */
  threshold: number;
  /** EB-sampler entropy bound gamma (nats). */
  entropyBound: number;
  /** 0 = greedy (argmax); otherwise sample from the renormalised top-k at this temperature. */
  temperature: number;
  /** Semi-autoregressive block size in tokens for long canvases; 0 disables blocks. */
  blockSize: number;
  /** Structure-aware position prior: context-adjacent and structural positions first. */
  positionPrior: boolean;
  /** No two adjacent / same-identifier positions committed in one step unless both are near-certain. */
  dependencyGuard: boolean;
  /** Confidence above which the dependency guard lets neighbours commit together. */
  guardCertainty: number;
  /** Late re-masking of low-confidence committed tokens. */
  remaskLowConfidence: boolean;
  /** Late re-masking of tokens inside tree-sitter parse errors. */
  remaskParseErrors: boolean;
  /**
   * End tokens may only be committed where every later canvas position already holds one, so the unused
   * tail grows from the right and an early, confident end token cannot empty the whole completion
   * (the frequency collapse of weak models). Elsewhere the best non-end proposal is used.
   */
  endAtTailOnly: boolean;
  seed: number;
}

export interface InfillRequest {
  id: number;
  /** Text before the hole and after it (the whole document sides; the engine windows them by token budget). */
  prefix: string;
  suffix: string;
  /** VS Code language id (python, typescript, javascript, ...) for parse-error remasking. */
  languageId?: string;
  /** Text currently in the hole (the selection being replaced); sizes the canvas. */
  selectionText?: string;
  /** Explicit canvas length in tokens; overrides selection-based sizing. */
  canvasTokens?: number;
  /** Extra canvas tokens beyond the selection's token count, as a fraction (0.25 = +25%) ... */
  canvasSlack?: number;
  /** ... plus at least this many tokens. */
  canvasSlackMin?: number;
  /** Canvas length when there is no selection. */
  defaultCanvasTokens?: number;
  prefixBudget?: number;
  suffixBudget?: number;
  sampler?: Partial<SamplerOptions>;
  /** Minimum milliseconds between snapshots sent back (0 = every step). The final state is always sent. */
  snapshotIntervalMs?: number;
  /** Placeholder glyph for still-masked positions in snapshot text. */
  placeholder?: string;
}

export interface Snapshot {
  requestId: number;
  step: number;
  /** Upper bound on steps for this request (canvas length); the sampler usually needs far fewer. */
  maxSteps: number;
  /** Canvas text with masked positions rendered as the placeholder, trimmed at the first end token. */
  text: string;
  masksLeft: number;
  canvasLength: number;
  nfe: number;
  elapsedMs: number;
}

export interface InfillResult {
  requestId: number;
  completion: string;
  nfe: number;
  steps: number;
  canvasLength: number;
  /** Committed non-end tokens in the completion. */
  tokens: number;
  firstFrameMs: number;
  ms: number;
  /** Notes for the log (e.g. context windowed, canvas clipped). */
  notes: string[];
}

export interface ModelInfo {
  name: string;
  modelDir: string;
  vocabSize: number;
  maxLength: number;
  executionProvider: string;
  /** Why the requested provider was not used, if it was not (a forced choice such as 'cuda' that failed). */
  fallbackReason?: string;
  /** With 'auto': why the platform's GPU provider was skipped (informational, not a failure). */
  providerNote?: string;
  loadMs: number;
}

export interface LoadOptions {
  modelDir: string;
  executionProvider: ExecutionProviderChoice;
  /** Intra-op threads; 0 = onnxruntime default. */
  threads: number;
}

// Every request carries a requestId and every reply to it carries the same id, so the client matches
// replies by id, never by order (ids are unique per client across load, diagnose and infill).
export type ToEngine =
  | { type: 'load'; requestId: number; options: LoadOptions }
  | { type: 'infill'; request: InfillRequest }
  | { type: 'cancel'; requestId: number }
  | { type: 'diagnose'; requestId: number }
  | { type: 'dispose' };

export type ErrorCode =
  | 'model-missing'
  | 'model-invalid'
  | 'tokenizer-mismatch'
  | 'too-long'
  | 'bad-request'
  | 'not-loaded'
  | 'internal';

export type FromEngine =
  | { type: 'ready' }
  | { type: 'loaded'; requestId: number; info: ModelInfo }
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'result'; result: InfillResult }
  | { type: 'cancelled'; requestId: number }
  | { type: 'diagnosis'; requestId: number; providers: string[]; inUse?: string; fallbackReason?: string }
  /** requestId is absent only for a failure no request caused (an unparsable message). */
  | { type: 'error'; requestId?: number; code: ErrorCode; message: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };
