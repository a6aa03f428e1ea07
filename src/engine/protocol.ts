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

export type EndRuleName = 'evidence' | 'rightmost' | 'anywhere';
export type LengthRuleName = 'mean-logprob' | 'end-evidence';

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
   * Where end tokens may be committed (sampler/endRule.ts): 'evidence' (default) anywhere the whole
   * tail after it agrees with end evidence >= threshold, else only at the rightmost masked position;
   * 'rightmost' only there (the earlier rule); 'anywhere' the raw proposal everywhere.
   */
  endRule: EndRuleName;
  /** Canvas lengths tried in one batch on the first pass (length search); 1 = the sized canvas only. */
  lengthCandidates: number;
  /** How the first pass ranks the lengths: mean log-probability of its decisions, or end evidence. */
  lengthRule: LengthRuleName;
  /** Completions decoded together (best lengths, then sampled copies of the best); 1 = one. */
  candidates: number;
  /** Temperature of the sampled candidate copies. */
  candidateTemperature: number;
  /** Below this geometric-mean confidence of its decisions a completion is reported as unsure. */
  unsureBelow: number;
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

/** One decoded completion of a request (InfillResult.candidates). */
export interface InfillCandidate {
  completion: string;
  /** Geometric-mean probability of its decisions (0..1). */
  confidence: number;
  unsure: boolean;
  /** Canvas length it was decoded in. */
  canvasLength: number;
  tokens: number;
}

export interface InfillResult {
  requestId: number;
  /** The lead candidate's completion (candidates[0]). */
  completion: string;
  /** Forward passes (graph calls); a batched pass counts once. */
  nfe: number;
  /** Batch rows evaluated (each canvas in each pass). */
  nfeRows: number;
  /** The best candidate's geometric-mean confidence, and whether it is below the unsure floor. */
  confidence: number;
  unsure: boolean;
  /**
   * Every distinct completion decoded: candidates[0] is `completion` (the canvas the snapshots showed,
   * the best after the first pass), the rest by confidence.
   */
  candidates: InfillCandidate[];
  /** Length search: each canvas length tried and its first-pass score (mean log-probability). */
  lengths: { tokens: number; score: number }[];
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

export type ToEngine =
  | { type: 'load'; options: LoadOptions }
  | { type: 'infill'; request: InfillRequest }
  | { type: 'cancel'; requestId: number }
  | { type: 'diagnose' }
  | { type: 'unload' }
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
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'result'; result: InfillResult }
  | { type: 'cancelled'; requestId: number }
  | { type: 'diagnosis'; providers: string[]; inUse?: string; fallbackReason?: string }
  | { type: 'error'; requestId?: number; code: ErrorCode; message: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };
