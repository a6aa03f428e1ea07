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

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml';

/** An execution provider that was tried (or checked) and not used, and why. */
export interface ProviderAttemptInfo {
  provider: string;
  reason: string;
}

/** Diagnose Device: the current model's forward pass timed on each provider that loads. */
export interface ProviderTiming {
  provider: string;
  /** Median ms of one forward pass over `windowLength` tokens (absent when the provider did not load). */
  ms?: number;
  adapter?: string;
  precision?: string;
  /** Why it did not load, or a note (software adapter). */
  note?: string;
}

export interface DeviceReport {
  /** The adapter of the provider in use, when it is a GPU and the name is known. */
  adapter?: string;
  precision?: string;
  attempts: ProviderAttemptInfo[];
  notes: string[];
  windowLength: number;
  timings: ProviderTiming[];
}

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
  /**
   * Attach per-position state (`Snapshot.trace`) to every snapshot: set only while the denoising
   * visualiser is open, so the loop does no extra work otherwise.
   */
  trace?: boolean;
}

/** One change of a canvas position between two snapshots (replayed by the visualiser). */
export interface TraceEvent {
  step: number;
  /** Canvas index. */
  index: number;
  kind: 'commit' | 'remask';
  /** Decoded text of the committed token (commit only). */
  piece?: string;
  /** Confidence at commit (commit only). */
  confidence?: number;
  /** Whether the committed token is an end/pad token (commit only). */
  end?: boolean;
}

/** Per-canvas-position state at a snapshot (only with `InfillRequest.trace`). */
export interface SnapshotTrace {
  /** Decoded token per canvas position; null while masked. */
  pieces: (string | null)[];
  /** Confidence at commit; null while masked. */
  confidence: (number | null)[];
  /** Step at which the position got its current token; null while masked. */
  commitStep: (number | null)[];
  /** How often each position was re-masked so far. */
  remasks: number[];
  /** Positions holding an end/pad token (the trimmed tail). */
  ends: boolean[];
  /** Every commit and re-mask since the previous snapshot of this request, in order. */
  events: TraceEvent[];
  /** Set when tracing started mid-request (`trace` message): commits before it are dated to this step. */
  tracedFrom?: number;
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
  /** Present only when the request asked for `trace`. */
  trace?: SnapshotTrace;
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
  /** Every provider tried before the one in use, with its reason. */
  attempts?: ProviderAttemptInfo[];
  /** GPU adapter in use (WebGPU on Linux: the Vulkan device name), when known. */
  adapter?: string;
  /** "fp32" / "fp16", with why a GPU runs fp32. */
  precision?: string;
  /** Drop-in ONNX folder (no model.json): the inferred manifest, one line (engine/dropin.ts). */
  inferredManifest?: string;
  loadMs: number;
}

export interface LoadOptions {
  modelDir: string;
  executionProvider: ExecutionProviderChoice;
  /** Intra-op threads; 0 = onnxruntime default. */
  threads: number;
}

/**
 * Pseudo-likelihood scoring of a region of existing code: the region's tokens are masked in `groups`
 * interleaved groups (token i in group i mod G) and each group is predicted in one forward pass, so
 * scoring costs G passes whatever the region's length.
 */
export interface ScoreRequest {
  id: number;
  /** Text before the region, the region, the text after it (the engine windows the sides by tokens). */
  prefix: string;
  text: string;
  suffix: string;
  languageId?: string;
  /** Interleaved mask groups G = forward passes (default 4, at most the region's token count). */
  groups?: number;
  prefixBudget?: number;
  suffixBudget?: number;
  /**
   * Score the function/method enclosing offset `prefix.length` of prefix + text + suffix instead of
   * `text` (tree-sitter where a grammar exists, else the indentation block). The result says where.
   */
  enclosingFunction?: boolean;
}

export interface Alternative {
  text: string;
  prob: number;
}

export interface TokenScore {
  /** UTF-16 offsets within the scored region text (`ScoreResult.regionText`). */
  start: number;
  end: number;
  text: string;
  /**
   * Probability of the token as written, with its group masked. Exact when the token is among the
   * model's top-k; otherwise an upper bound (`exact: false`): min(p_k, 1 - sum of the top-k).
   */
  prob: number;
  exact: boolean;
  /** Rank among the top-k (0 = the model's first choice); -1 when not among them. */
  rank: number;
  entropy: number;
  /** The model's top-k for the position (the written token included if present). */
  alternatives: Alternative[];
}

export interface ScoreResult {
  requestId: number;
  /** The region that was scored, as offsets into prefix + text + suffix, and its text. */
  regionStart: number;
  regionEnd: number;
  regionText: string;
  tokens: TokenScore[];
  /** Forward passes spent (= groups). */
  passes: number;
  groups: number;
  ms: number;
  notes: string[];
}

/** Refine Selection: score the region, re-mask what the model doubts, denoise only those positions. */
export interface RefineRequest extends Omit<ScoreRequest, 'enclosingFunction'> {
  /** Tokens scoring below this probability are re-masked (default 0.05). */
  threshold?: number;
  /** At most this fraction of the region's tokens is re-masked, lowest first (default 0.5). */
  maxFraction?: number;
  sampler?: Partial<SamplerOptions>;
  snapshotIntervalMs?: number;
  placeholder?: string;
  trace?: boolean;
}

export interface RefineResult {
  requestId: number;
  /** The scores the decision was taken on. */
  scores: ScoreResult;
  /** Token indices (into scores.tokens) below the threshold, and all re-masked after expansion. */
  doubtful: number[];
  remasked: number[];
  /** Why positions beyond the doubtful ones were re-masked (identifier / parse-error line). */
  expansions: string[];
  /** The region rewritten (equal to the input text when nothing was re-masked). */
  text: string;
  changed: boolean;
  /** Forward passes: scoring + denoising. */
  passes: number;
  scorePasses: number;
  denoisePasses: number;
  ms: number;
  notes: string[];
}

// Every request carries a requestId and every reply to it carries the same id, so the client matches
// replies by id, never by order (ids are unique per client across load, diagnose and infill).
export type ToEngine =
  | { type: 'load'; requestId: number; options: LoadOptions }
  | { type: 'infill'; request: InfillRequest }
  | { type: 'score'; request: ScoreRequest }
  | { type: 'refine'; request: RefineRequest }
  | { type: 'cancel'; requestId: number }
  /** Start tracing a running request (the visualiser opened after it started); handled on arrival. */
  | { type: 'trace'; requestId: number }
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
  | { type: 'scored'; requestId: number; result: ScoreResult }
  | { type: 'refined'; requestId: number; result: RefineResult }
  | { type: 'cancelled'; requestId: number }
  | {
      type: 'diagnosis';
      requestId: number;
      providers: string[];
      inUse?: string;
      fallbackReason?: string;
      report?: DeviceReport;
    }
  /** requestId is absent only for a failure no request caused (an unparsable message). */
  | { type: 'error'; requestId?: number; code: ErrorCode; message: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };
