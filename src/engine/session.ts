// One onnxruntime-node InferenceSession for a model, created on the best execution provider available,
// and the graph call the sampler needs: top-k predictions for a set of output rows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import type { ModelManifest, OutputKind } from './manifest';
import type { ExecutionProviderChoice } from './protocol';
import { providerOrder, type ProviderName } from './providers';
import { resolvePackageFile } from './resolve';
import { topKFromLogits, type RowPrediction } from './topk';

export interface SessionOptions {
  executionProvider: ExecutionProviderChoice;
  /** Intra-op threads; 0 = onnxruntime default. */
  threads: number;
  /** Run the manifest's `onnx_full_logits` graph instead of `onnx` (parity tests, debugging). */
  useFullLogitsGraph?: boolean;
}

/** Top-k used when the engine computes predictions from full logits itself. */
const FULL_LOGITS_TOP_K = 8;

const REQUIRED_IO: Record<OutputKind, { inputs: string[]; outputs: string[] }> = {
  positions_topk: { inputs: ['input_ids', 'positions'], outputs: ['topk_ids', 'topk_probs', 'entropy'] },
  full_logits: { inputs: ['input_ids'], outputs: ['logits'] },
};

export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly outputKind: OutputKind,
    private readonly vocabSize: number,
    private readonly maskId: number,
    /** Provider the session runs on. */
    readonly provider: ProviderName,
    /** Why an earlier provider in the order was not used. */
    readonly fallbackReason: string | undefined,
  ) {}

  static async create(manifest: ModelManifest, options: SessionOptions): Promise<ModelSession> {
    const useFull = options.useFullLogitsGraph === true;
    if (useFull && !manifest.fullLogitsPath) {
      throw new EngineError(
        'model-invalid',
        `${manifest.dir}/model.json: field "onnx_full_logits" is missing`,
      );
    }
    const file = useFull ? manifest.fullLogitsPath! : manifest.onnxPath;
    const outputKind: OutputKind = useFull ? 'full_logits' : manifest.outputKind;
    const failures: string[] = [];
    for (const provider of providerOrder(options.executionProvider)) {
      try {
        const missing = missingProviderLibrary(provider);
        if (missing) {
          failures.push(`${provider} unavailable: ${missing}`);
          continue;
        }
        const sessionOptions: ort.InferenceSession.SessionOptions = {
          executionProviders: [provider],
          graphOptimizationLevel: 'all',
          // A GPU provider that cannot load logs a native error before throwing; the reason is
          // reported through fallbackReason instead.
          logSeverityLevel: provider === 'cpu' ? 2 : 4,
        };
        if (options.threads > 0) {
          sessionOptions.intraOpNumThreads = options.threads;
        }
        const session = await ort.InferenceSession.create(file, sessionOptions);
        checkGraphContract(session, outputKind, file);
        const reason = failures.length > 0 ? failures.join('; ') : undefined;
        return new ModelSession(
          session,
          outputKind,
          manifest.vocabSize,
          manifest.specialTokens.mask,
          provider,
          reason,
        );
      } catch (err) {
        if (err instanceof EngineError) {
          throw err;
        }
        const message = (err as Error).message.split('\n')[0];
        if (provider === 'cpu') {
          throw new EngineError('model-invalid', `${file}: onnxruntime cannot load the graph (${message})`);
        }
        failures.push(`${provider} unavailable: ${message}`);
      }
    }
    throw new EngineError('internal', `no execution provider could load ${file}`);
  }

  /**
   * One forward pass over `inputIds` (batch 1); returns the top-k prediction of each output row in
   * `rows`, in the same order. Rows are graph rows, not token positions: callers go through shift.ts.
   */
  async forward(inputIds: readonly number[], rows: readonly number[]): Promise<RowPrediction[]> {
    for (const row of rows) {
      if (row < 0 || row >= inputIds.length) {
        throw new EngineError('internal', `output row ${row} outside input of length ${inputIds.length}`);
      }
    }
    const ids = new ort.Tensor(
      'int64',
      BigInt64Array.from(inputIds, (v) => BigInt(v)),
      [1, inputIds.length],
    );
    if (this.outputKind === 'full_logits') {
      const out = await this.session.run({ input_ids: ids });
      const logits = out.logits.data as Float32Array;
      const vocab = out.logits.dims[2];
      return rows.map((row) => topKFromLogits(logits, row * vocab, vocab, FULL_LOGITS_TOP_K, [this.maskId]));
    }
    const positions = new ort.Tensor(
      'int64',
      BigInt64Array.from(rows, (v) => BigInt(v)),
      [1, rows.length],
    );
    const out = await this.session.run({ input_ids: ids, positions });
    const topIds = out.topk_ids.data as BigInt64Array;
    const topProbs = out.topk_probs.data as Float32Array;
    const entropy = out.entropy.data as Float32Array;
    const k = out.topk_ids.dims[2];
    return rows.map((_, i) => ({
      ids: Array.from(topIds.subarray(i * k, (i + 1) * k), Number),
      probs: Array.from(topProbs.subarray(i * k, (i + 1) * k)),
      entropy: entropy[i],
    }));
  }

  /**
   * One forward pass over several inputs as one batch (the graph's batch axis is dynamic). Inputs must
   * have equal length (the graph has no attention mask); `rows[b]` are input b's output rows. Rows are
   * padded to equal count by repeating a row and the padding is dropped from the answer.
   */
  async forwardBatch(
    inputs: readonly (readonly number[])[],
    rows: readonly (readonly number[])[],
  ): Promise<RowPrediction[][]> {
    if (inputs.length === 1) {
      return [await this.forward(inputs[0], rows[0])];
    }
    const length = inputs[0].length;
    if (inputs.some((ids) => ids.length !== length)) {
      throw new EngineError('internal', 'batched inputs must have equal length');
    }
    rows.flat().forEach((row) => {
      if (row < 0 || row >= length) {
        throw new EngineError('internal', `output row ${row} outside input of length ${length}`);
      }
    });
    const batch = inputs.length;
    const ids = new ort.Tensor(
      'int64',
      BigInt64Array.from(inputs.flat(), (v) => BigInt(v)),
      [batch, length],
    );
    if (this.outputKind === 'full_logits') {
      const out = await this.session.run({ input_ids: ids });
      const logits = out.logits.data as Float32Array;
      const vocab = out.logits.dims[2];
      return rows.map((r, b) =>
        r.map((row) =>
          topKFromLogits(logits, (b * length + row) * vocab, vocab, FULL_LOGITS_TOP_K, [this.maskId]),
        ),
      );
    }
    const n = Math.max(1, ...rows.map((r) => r.length));
    const padded = rows.map((r) => [...r, ...new Array<number>(n - r.length).fill(r[0] ?? 0)]);
    const positions = new ort.Tensor(
      'int64',
      BigInt64Array.from(padded.flat(), (v) => BigInt(v)),
      [batch, n],
    );
    const out = await this.session.run({ input_ids: ids, positions });
    const topIds = out.topk_ids.data as BigInt64Array;
    const topProbs = out.topk_probs.data as Float32Array;
    const entropy = out.entropy.data as Float32Array;
    const k = out.topk_ids.dims[2];
    return rows.map((r, b) =>
      r.map((_, i) => {
        const at = (b * n + i) * k;
        return {
          ids: Array.from(topIds.subarray(at, at + k), Number),
          probs: Array.from(topProbs.subarray(at, at + k)),
          entropy: entropy[b * n + i],
        };
      }),
    );
  }

  get vocab(): number {
    return this.vocabSize;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function checkGraphContract(session: ort.InferenceSession, kind: OutputKind, file: string): void {
  const need = REQUIRED_IO[kind];
  for (const name of need.inputs) {
    if (!session.inputNames.includes(name)) {
      throw new EngineError(
        'model-invalid',
        `${file}: graph has no input "${name}" (model.json "output_kind": "${kind}")`,
      );
    }
  }
  for (const name of need.outputs) {
    if (!session.outputNames.includes(name)) {
      throw new EngineError(
        'model-invalid',
        `${file}: graph has no output "${name}" (model.json "output_kind": "${kind}")`,
      );
    }
  }
}

/**
 * On Linux the CUDA provider is a separate library that onnxruntime-node's install script downloads;
 * when it is absent, trying it only prints a native error, so say why up front instead.
 */
function missingProviderLibrary(provider: ProviderName): string | undefined {
  if (provider !== 'cuda') {
    return undefined;
  }
  const binding = resolvePackageFile('onnxruntime-node', `bin/napi-v6/${process.platform}/${process.arch}`);
  if (!binding) {
    return undefined; // unknown layout: let onnxruntime try and report
  }
  const library = path.join(binding, 'libonnxruntime_providers_cuda.so');
  return fs.existsSync(library)
    ? undefined
    : `${library} is not installed (onnxruntime-node's install step downloads it on CUDA machines)`;
}

/** Execution providers this onnxruntime-node build knows about (bundled or loadable). */
export function availableProviders(): string[] {
  return ort.listSupportedBackends().map((b) => (b.bundled ? b.name : `${b.name} (needs extra libraries)`));
}
