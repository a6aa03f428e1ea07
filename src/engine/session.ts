// One onnxruntime-node InferenceSession for a model, created on the best execution provider available,
// and the graph call the sampler needs: top-k predictions for a set of output rows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import type { ModelManifest, OutputKind } from './manifest';
import type { ExecutionProviderChoice } from './protocol';
import { describeAttempts, providerOrder, type ProviderAttempt, type ProviderName } from './providers';
import { fp16GraphPath } from './precision';
import { resolvePackageFile } from './resolve';
import { fullLogitsFeeds, reduceLogitRows } from './dropinLogits';
import type { RowPrediction } from './topk';
import { probeWebGpu } from './webgpuProbe';

export interface SessionOptions {
  executionProvider: ExecutionProviderChoice;
  /** Intra-op threads; 0 = onnxruntime default. */
  threads: number;
  /** Run the manifest's `onnx_full_logits` graph instead of `onnx` (parity tests, debugging). */
  useFullLogitsGraph?: boolean;
  /** Never use the manifest's fp16 graph (bench/speed.ts compares both). */
  forceFp32?: boolean;
}

/** See forward(): an experiment switch read once, so every session of a process agrees. */
const ROW_BUCKETS = process.env.DI_ROW_BUCKETS === '1';

/** Top-k used when the engine computes predictions from full logits itself. */
const FULL_LOGITS_TOP_K = 8;

const REQUIRED_IO: Record<OutputKind, { inputs: string[]; outputs: string[] }> = {
  positions_topk: { inputs: ['input_ids', 'positions'], outputs: ['topk_ids', 'topk_probs', 'entropy'] },
  full_logits: { inputs: ['input_ids'], outputs: ['logits'] },
};

/** What the session runs on, for ModelInfo and Diagnose Device. */
export interface SessionDevice {
  provider: ProviderName;
  /** Providers tried before this one and why they were not used. */
  attempts: ProviderAttempt[];
  /** The GPU adapter's name where it is known (WebGPU on Linux: the Vulkan device). */
  adapter?: string;
  /** "fp32" or "fp16", with the reason when a GPU runs fp32. */
  precision: string;
  /** Things the user should know about the provider in use (a software adapter chosen explicitly). */
  notes: string[];
}

export class ModelSession {
  /** Reused input buffers, keyed by length: no allocation per denoising step. */
  private readonly buffers = new Map<number, BigInt64Array>();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly outputKind: OutputKind,
    private readonly vocabSize: number,
    private readonly maskId: number,
    readonly device: SessionDevice,
  ) {}

  /** Provider the session runs on. */
  get provider(): ProviderName {
    return this.device.provider;
  }

  /** Why earlier providers in the order were not used (one line), if any were skipped. */
  get fallbackReason(): string | undefined {
    return describeAttempts(this.device.attempts);
  }

  static async create(manifest: ModelManifest, options: SessionOptions): Promise<ModelSession> {
    const useFull = options.useFullLogitsGraph === true;
    if (useFull && !manifest.fullLogitsPath) {
      throw new EngineError(
        'model-invalid',
        `${manifest.dir}/model.json: field "onnx_full_logits" is missing`,
      );
    }
    const outputKind: OutputKind = useFull ? 'full_logits' : manifest.outputKind;
    const attempts: ProviderAttempt[] = [];
    for (const provider of providerOrder(options.executionProvider)) {
      const gate = checkProvider(provider, options.executionProvider === provider);
      if (gate.skip) {
        attempts.push({ provider, reason: gate.skip });
        continue;
      }
      const graph = useFull
        ? { file: manifest.fullLogitsPath!, precision: 'fp32' }
        : chooseGraph(manifest, provider, gate.shaderF16, options.forceFp32 === true);
      const file = graph.file;
      try {
        const sessionOptions: ort.InferenceSession.SessionOptions = {
          executionProviders: [provider],
          graphOptimizationLevel: 'all',
          // A GPU provider that cannot load logs a native error before throwing; the reason is
          // reported through the attempts instead.
          logSeverityLevel: provider === 'cpu' ? 2 : 4,
        };
        // Outputs stay at onnxruntime's default location, the CPU: the top-k tensors are small, and in
        // onnxruntime-node 1.30 reading a 'gpu-buffer' output back (getData) aborts the process
        // ("terminate called after throwing an instance of 'char const*'", seen on lavapipe), so
        // preferredOutputLocation buys nothing for a loop whose sampler reads every step's top-k.
        if (options.threads > 0) {
          sessionOptions.intraOpNumThreads = options.threads;
        }
        const session = await ort.InferenceSession.create(file, sessionOptions);
        checkGraphContract(session, outputKind, file);
        const device: SessionDevice = {
          provider,
          attempts,
          adapter: gate.adapter,
          precision: graph.precision,
          notes: gate.note ? [gate.note] : [],
        };
        return new ModelSession(session, outputKind, manifest.vocabSize, manifest.specialTokens.mask, device);
      } catch (err) {
        if (err instanceof EngineError) {
          throw err;
        }
        const message = (err as Error).message.split('\n')[0];
        if (provider === 'cpu') {
          throw new EngineError('model-invalid', `${file}: onnxruntime cannot load the graph (${message})`);
        }
        attempts.push({ provider, reason: `cannot create a session: ${message}` });
        if (graph.precision === 'fp16') {
          // The fp16 graph may use what this adapter lacks; the fp32 one on the same GPU is still better
          // than the next provider.
          const retry = await ModelSession.create(manifest, {
            ...options,
            executionProvider: provider as ExecutionProviderChoice,
            forceFp32: true,
          });
          retry.device.attempts.unshift(...attempts);
          return retry;
        }
      }
    }
    throw new EngineError('internal', `no execution provider could load ${manifest.onnxPath}`);
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
    const ids = new ort.Tensor('int64', this.fill(inputIds.length, inputIds), [1, inputIds.length]);
    if (this.outputKind === 'full_logits') {
      // drop-in graphs may also take attention_mask / position_ids and pad or halve their logits
      const feeds = fullLogitsFeeds(this.session.inputNames, ids, inputIds.length);
      const out = await this.session.run(feeds);
      return reduceLogitRows(out.logits, rows, this.vocabSize, FULL_LOGITS_TOP_K, this.maskId);
    }
    // Row buckets (DI_ROW_BUCKETS=1, GPU providers only): pad the row count to a power of two so that a
    // loop whose masked set shrinks step by step reuses a few shapes (padding rows repeat the last row
    // and are dropped; rows are independent, so answers do not change). Off by default: on lavapipe it
    // made a 32-step shrinking loop 1.6-2.1x slower (the padded head rows cost more than any shape
    // change); bench/device/webgpu-bench.sh measures it on a real GPU.
    const width = this.device.provider !== 'cpu' && ROW_BUCKETS ? rowBucket(rows.length) : rows.length;
    const padded = this.fill(-width, rows, rows[rows.length - 1] ?? 0);
    const positions = new ort.Tensor('int64', padded, [1, width]);
    const out = await this.session.run({ input_ids: ids, positions });
    const topIds = out.topk_ids.data as BigInt64Array;
    const topProbs = floatData(out.topk_probs);
    const entropy = floatData(out.entropy);
    const k = out.topk_ids.dims[2];
    return rows.map((_, i) => ({
      ids: Array.from(topIds.subarray(i * k, (i + 1) * k), Number),
      probs: Array.from(topProbs.subarray(i * k, (i + 1) * k)),
      entropy: entropy[i],
    }));
  }

  /**
   * Writes `values` (then `pad`) into the reused int64 buffer of that length; ids and positions use
   * separate keys (positive / negative lengths). Runs are sequential, so one buffer per shape is enough.
   */
  private fill(key: number, values: readonly number[], pad = 0): BigInt64Array {
    const length = Math.abs(key);
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = new BigInt64Array(length);
      this.buffers.set(key, buffer);
    }
    for (let i = 0; i < length; i++) {
      buffer[i] = BigInt(i < values.length ? values[i] : pad);
    }
    return buffer;
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
      // Full-logits graphs (parity graphs, drop-in folders with their own extra inputs) run one input
      // at a time through forward(): they are for checking and conversion-free loading, not for speed.
      const answers: RowPrediction[][] = [];
      for (let b = 0; b < inputs.length; b++) {
        answers.push(await this.forward(inputs[b], rows[b]));
      }
      return answers;
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
    const topProbs = floatData(out.topk_probs);
    const entropy = floatData(out.entropy);
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

/** Row counts a GPU session sees: 8, 16, 32, ... (powers of two). */
export function rowBucket(n: number): number {
  let b = 8;
  while (b < n) {
    b *= 2;
  }
  return b;
}

/** float32 data of an output, also when an fp16 graph returns float16. */
function floatData(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  if (data instanceof Float32Array) {
    return data;
  }
  if (data instanceof Uint16Array) {
    return Float32Array.from(data, halfToFloat);
  }
  return Float32Array.from(data as ArrayLike<number>);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) {
    return sign * frac * 2 ** -24;
  }
  if (exp === 31) {
    return frac ? NaN : sign * Infinity;
  }
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

interface ProviderGate {
  /** Why the provider is not tried (it cannot work here, or `auto` must not pick it). */
  skip?: string;
  adapter?: string;
  shaderF16: boolean;
  note?: string;
}

/**
 * What is known before creating a session: CUDA needs its separately downloaded libraries; WebGPU needs
 * an adapter, and `auto` must not take a software one (a CPU rasteriser is slower than the CPU provider).
 */
function checkProvider(provider: ProviderName, explicit: boolean): ProviderGate {
  if (provider === 'cuda') {
    const missing = missingCudaLibrary();
    return { skip: missing, shaderF16: true };
  }
  if (provider !== 'webgpu') {
    return { shaderF16: false };
  }
  const probe = probeWebGpu();
  if (!probe.ok) {
    return { skip: probe.reason, adapter: probe.adapter, shaderF16: false };
  }
  const adapter = probe.adapter;
  if (probe.software) {
    if (!explicit) {
      return {
        skip:
          `only a software adapter (${adapter}): a CPU rasteriser, slower than the cpu provider; ` +
          'set diffusionInfill.model.executionProvider to "webgpu" (CLI: --ep webgpu) to use it anyway',
        adapter,
        shaderF16: probe.shaderF16,
      };
    }
    return {
      adapter,
      shaderF16: probe.shaderF16,
      note: `webgpu runs on a software adapter (${adapter}), a CPU rasteriser: correct, but slower than the cpu provider`,
    };
  }
  return { adapter, shaderF16: probe.shaderF16 };
}

/** The fp16 graph (model.json "onnx_fp16") on a GPU that runs float16 shaders; fp32 otherwise, with why. */
function chooseGraph(
  manifest: ModelManifest,
  provider: ProviderName,
  shaderF16: boolean,
  forceFp32: boolean,
): { file: string; precision: string } {
  const fp32 = manifest.onnxPath;
  if (provider === 'cpu') {
    return { file: fp32, precision: 'fp32' };
  }
  const fp16 = fp16GraphPath(manifest);
  if (forceFp32) {
    return { file: fp32, precision: 'fp32 (fp16 graph not used)' };
  }
  if (!fp16) {
    return { file: fp32, precision: 'fp32 (the model folder has no fp16 graph: model.json "onnx_fp16")' };
  }
  if (!shaderF16) {
    return { file: fp32, precision: 'fp32 (the adapter has no shader-f16)' };
  }
  return { file: fp16, precision: 'fp16' };
}

/**
 * On Linux the CUDA provider is a separate library that onnxruntime-node's install script downloads;
 * when it is absent, trying it only prints a native error, so say why up front instead.
 */
function missingCudaLibrary(): string | undefined {
  const binding = resolvePackageFile('onnxruntime-node', `bin/napi-v6/${process.platform}/${process.arch}`);
  if (!binding) {
    return undefined; // unknown layout: let onnxruntime try and report
  }
  const library = path.join(binding, 'libonnxruntime_providers_cuda.so');
  return fs.existsSync(library)
    ? undefined
    : `its provider library is not installed (${library}; onnxruntime-node's install step downloads it when ` +
        'run without ONNXRUNTIME_NODE_INSTALL=skip)';
}

/** Execution providers this onnxruntime-node build knows about (bundled or loadable). */
export function availableProviders(): string[] {
  return ort.listSupportedBackends().map((b) => (b.bundled ? b.name : `${b.name} (needs extra libraries)`));
}
