// The WebGPU execution provider against the CPU provider, on the same masked inputs:
//   - the probe's reading of real Dawn / Vulkan-loader messages (no loader, no driver, software adapter);
//   - models/default and an exported Qwen2-shape model (opendcoder-tiny): top-1 ids equal, top-k
//     probabilities within 1e-4;
//   - one complete greedy infill through the engine process loaded with `webgpu`, equal to the CPU
//     engine process step by step and token for token;
//   - `auto` never takes a software adapter over the CPU provider; Diagnose Device times both;
//   - node placement of models/default/model.onnx: every compute node on WebGPU (ORT's placement log).
// WebGPU needs a Vulkan loader and driver at process start. `.ci/run` installs Mesa's lavapipe into a
// private prefix and scripts/test-all.sh sources its env.sh; by hand:
//   . ~/.cache/diffusion-infill-tools/vulkan/env.sh && node --test out/test/unit/webgpu.test.js
// With CI=true the WebGPU tests FAIL when no WebGPU session can be created; elsewhere they skip and say why.
// lavapipe is a CPU rasteriser (about 1.4 s per step at 256 tokens here): inputs and canvases stay small.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { EngineClient } from '../../src/engine/client';
import { deviceReport } from '../../src/engine/deviceReport';
import { describeReport } from '../../src/engine/deviceReportText';
import { InfillEngine } from '../../src/engine/engine';
import { loadOptionsFromFlags } from '../../src/engine/flags';
import { loadManifest, type ModelManifest } from '../../src/engine/manifest';
import { ONNX_FLOAT, reluModel } from '../../src/engine/probeGraph';
import type { InfillRequest, Snapshot } from '../../src/engine/protocol';
import { ModelSession, rowBucket } from '../../src/engine/session';
import { rowsForPositions } from '../../src/engine/shift';
import { CodeTokenizer } from '../../src/engine/tokenizer';
import { explainFailure, interpretProbe, isSoftwareAdapter, probeWebGpu } from '../../src/engine/webgpuProbe';
import { ENGINE_ENTRY, FIXTURE_DIR, REPO_ROOT, tempDir } from './helpers';

const DEFAULT_DIR = path.join(REPO_ROOT, 'models', 'default');
const QWEN2_DIR = path.join(REPO_ROOT, 'test-artifacts', 'exported', 'opendcoder-tiny');
const PROB_TOLERANCE = 1e-4;
/**
 * fp16 graph on WebGPU against the fp32 graph on the CPU: WebGPU runs the --fp16-compute matmuls and their
 * accumulation in float16 (the CPU provider runs the same fp16 graph within 3e-4 of fp32, so it upcasts).
 * Measured on lavapipe with opendcoder-tiny: 3.3e-3 to 1.2e-2. The bound allows float16 arithmetic, not a
 * wrong graph or wrong weights (those differ by O(0.1-1)); the fp32 parity above stays at 1e-4.
 */
const FP16_TOLERANCE = 2e-2;
const IN_CI = process.env.CI === 'true';

describe('webgpu probe: reading Dawn and the Vulkan loader', () => {
  it('names the missing Vulkan loader and the package to install', () => {
    const stderr =
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n" +
      '    at operator() (/build/Release/_deps/dawn-src/src/dawn/native/vulkan/BackendVk.cpp:368)\n';
    const p = interpretProbe(
      'DI_PROBE {"f32":"error Failed to get a WebGPU adapter: No supported adapters","f16":"skipped"}\n',
      stderr,
      0,
      undefined,
      5,
    );
    assert.equal(p.ok, false);
    assert.match(p.reason ?? '', /no Vulkan loader/);
    assert.match(p.reason ?? '', /libvulkan1/);
  });

  it('a loader without a driver, and a driver too old for Dawn, are told apart', () => {
    assert.match(
      explainFailure('ERROR | DRIVER:   vkCreateInstance: Found no drivers!\n', 'No supported adapters'),
      /found no driver.*mesa-vulkan-drivers/,
    );
    assert.match(
      explainFailure(
        'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required\n',
        'No supported adapters',
      ),
      /lacks a feature Dawn needs \(shaderUniform\*ArrayDynamicIndexing required\)/,
    );
    assert.match(explainFailure('', 'Failed to get a WebGPU adapter: x'), /no WebGPU adapter/);
  });

  it('takes the adapter name from the loader and flags CPU rasterisers', () => {
    const stderr =
      'DRIVER | LAYER:      Using "llvmpipe (LLVM 15.0.6, 256 bits)" with driver: "/x/libvulkan_lvp.so"\n';
    const p = interpretProbe('DI_PROBE {"f32":"ok","f16":"ok"}\n', stderr, 0, undefined, 5);
    assert.deepEqual(
      { ok: p.ok, adapter: p.adapter, software: p.software, f16: p.shaderF16 },
      { ok: true, adapter: 'llvmpipe (LLVM 15.0.6, 256 bits)', software: true, f16: true },
    );
    for (const name of ['SwiftShader Device (Subzero)', 'Microsoft Basic Render Driver', 'lavapipe']) {
      assert.ok(isSoftwareAdapter(name), name);
    }
    for (const name of ['NVIDIA GeForce RTX 4070 Laptop GPU', 'AMD Radeon 780M (RADV PHOENIX)', undefined]) {
      assert.ok(!isSoftwareAdapter(name), String(name));
    }
    const two =
      'Using "llvmpipe (LLVM 15.0.6, 256 bits)" with driver: "/a"\nUsing "AMD Radeon 780M (RADV PHOENIX)" with driver: "/b"\n';
    assert.equal(
      interpretProbe('DI_PROBE {"f32":"ok","f16":"ok"}\n', two, 0, undefined, 5).adapter,
      'AMD Radeon 780M (RADV PHOENIX)',
    );
    const noF16 = interpretProbe('DI_PROBE {"f32":"ok","f16":"error x"}\n', '', 0, undefined, 5);
    assert.equal(noF16.shaderF16, false);
  });

  it('the probe graph is a valid ONNX model (Relu on the CPU provider)', async () => {
    const s = await ort.InferenceSession.create(reluModel(ONNX_FLOAT));
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 2, -3, 4]), [4]) });
    assert.deepEqual(Array.from(out.y.data as Float32Array), [0, 2, 0, 4]);
    await s.release();
  });

  it('row buckets (DI_ROW_BUCKETS=1) are powers of two from 8', () => {
    assert.deepEqual([1, 8, 9, 33, 64, 65].map(rowBucket), [8, 8, 16, 64, 64, 128]);
  });

  it('--ep webgpu is accepted by the CLI flags', () => {
    assert.equal(loadOptionsFromFlags({ model: 'm', ep: 'webgpu' }).executionProvider, 'webgpu');
  });
});

/** Skip reason for the tests that need a WebGPU session, or false; in CI never a skip (they must fail). */
function webgpuSkip(): string | false {
  const probe = probeWebGpu();
  if (probe.ok || IN_CI) {
    return false;
  }
  const reason = `no WebGPU here (${probe.reason}); run test/runners/install-vulkan.sh and source its env.sh`;
  process.stdout.write(`# webgpu tests skipped: ${reason}\n`);
  return reason;
}

/** A source window with `holes` masked positions in the middle, as the engine would build it. */
function maskedInput(
  manifest: ModelManifest,
  length: number,
  holes: number,
): { ids: number[]; positions: number[] } {
  const tokenizer = CodeTokenizer.forManifest(manifest);
  let text = '';
  for (let i = 0; tokenizer.encode(text).length < length; i++) {
    text += `def area_${i}(width, height):\n    """Area of a ${i}-th rectangle."""\n    return width * height + ${i}\n\n`;
  }
  const ids = tokenizer.encode(text).slice(0, length);
  const start = Math.floor((length - holes) / 2);
  const positions = Array.from({ length: holes }, (_, i) => start + i);
  for (const p of positions) {
    ids[p] = manifest.specialTokens.mask;
  }
  return { ids, positions };
}

async function createOn(manifest: ModelManifest, provider: 'cpu' | 'webgpu'): Promise<ModelSession> {
  const s = await ModelSession.create(manifest, { executionProvider: provider, threads: 1 });
  if (s.provider !== provider) {
    const why = s.fallbackReason;
    await s.release();
    assert.fail(`the ${provider} session could not be created: ${why}`);
  }
  return s;
}

async function assertParity(modelDir: string, length: number, holes: number): Promise<void> {
  const manifest = loadManifest(modelDir);
  const { ids, positions } = maskedInput(manifest, Math.min(length, manifest.maxLength), holes);
  const rows = rowsForPositions(positions, manifest.logitShift);
  const cpu = await createOn(manifest, 'cpu');
  const gpu = await createOn(manifest, 'webgpu');
  try {
    const a = await cpu.forward(ids, rows);
    const b = await gpu.forward(ids, rows);
    assert.equal(b.length, rows.length);
    let worst = 0;
    for (let i = 0; i < rows.length; i++) {
      assert.equal(b[i].ids[0], a[i].ids[0], `row ${rows[i]}: top-1 id`);
      assert.equal(b[i].probs.length, a[i].probs.length);
      for (let k = 0; k < a[i].probs.length; k++) {
        const d = Math.abs(a[i].probs[k] - b[i].probs[k]);
        worst = Math.max(worst, d);
        assert.ok(
          d <= PROB_TOLERANCE,
          `row ${rows[i]} rank ${k}: p ${a[i].probs[k]} (cpu) vs ${b[i].probs[k]} (webgpu)`,
        );
      }
    }
    process.stdout.write(
      `# ${manifest.name}: ${rows.length} rows at L=${ids.length} on ${gpu.device.adapter ?? 'webgpu'}: ` +
        `top-1 equal, max |dp| ${worst.toExponential(2)}\n`,
    );
  } finally {
    await cpu.release();
    await gpu.release();
  }
}

/**
 * ops ORT may leave on the CPU provider in a WebGPU session: int64 shape arithmetic (the WebGPU EP registers no
 * int64 kernels, and ORT keeps shape computations on the host by design) and the Expand of the `positions`
 * input into GatherElements' index. None of them reads an activation. Before models/recipe/webgpu_ops.py the
 * CPU list also held the head's LogSoftmax (no WebGPU kernel at all), the float ConstantOfShape of its -1e9
 * fill and the int64 Range of the mask-token row: those moved activations across every step.
 */
const HOST_SHAPE_OPS = new Set([
  'Shape',
  'Gather',
  'Unsqueeze',
  'Concat',
  'Div',
  'Cast',
  'Reshape',
  'Equal',
  'Where',
  'Expand',
]);
/** Compute ops of the head that must run on the adapter (the positions_topk contract, docs/model-format.md). */
const HEAD_COMPUTE_OPS = ['GatherElements', 'MatMul', 'ReduceMax', 'Exp', 'ReduceSum', 'Log', 'Neg', 'TopK'];

/**
 * Node placement of a WebGPU session, read from ORT's verbose "Node placements" log (native stderr, so a
 * child process). disable_cpu_ep_fallback cannot be the check: it also rejects the int64 shape nodes that ORT
 * places on the CPU in every transformer export (79 of them in models/default).
 */
function webgpuPlacement(file: string): Map<string, { op: string; name: string }[]> {
  const script = `
const ort = require(process.env.DI_ORT);
ort.InferenceSession.create(process.env.DI_MODEL, {
  executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 0, logVerbosityLevel: 0,
}).then((s) => s.release()).then(() => process.stdout.write('DI_CREATED\\n'),
  (e) => { process.stdout.write('DI_FAILED ' + String(e && e.message || e).split('\\n')[0] + '\\n'); });
`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DI_ORT: require.resolve('onnxruntime-node'), DI_MODEL: file },
  });
  assert.match(r.stdout ?? '', /DI_CREATED/, `no WebGPU session for ${file}: ${r.stdout}${r.error ?? ''}`);
  const placed = new Map<string, { op: string; name: string }[]>();
  let ep: string | undefined;
  for (const line of (r.stderr ?? '').split('\n')) {
    const m = /VerifyEachNodeIsAssignedToAnEp\]\s+(?:Node\(s\) placed on \[(\w+)\]|(\w+) \((.*)\)$)/.exec(
      line,
    );
    if (m?.[1]) {
      ep = m[1];
      placed.set(ep, []);
    } else if (m?.[2] && ep) {
      placed.get(ep)!.push({ op: m[2], name: m[3] });
    }
  }
  assert.ok(placed.size > 0, `no "Node placements" lines in ORT's verbose log for ${file}`);
  return placed;
}

function ensureQwen2Export(): void {
  if (fs.existsSync(path.join(QWEN2_DIR, 'model.json'))) {
    return;
  }
  const python = process.env.DI_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, ['-m', 'models.export.tiny', '--out', path.dirname(QWEN2_DIR)], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.ok(
    fs.existsSync(path.join(QWEN2_DIR, 'model.json')),
    `could not build ${QWEN2_DIR} with ${python}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`,
  );
}

/** opendcoder-tiny copied (symlinks) plus its own checkpoint exported with --fp16-compute as "onnx_fp16". */
function qwen2WithFp16Graph(): string {
  ensureQwen2Export();
  const dir = tempDir('fp16');
  for (const name of fs.readdirSync(QWEN2_DIR)) {
    fs.symlinkSync(path.join(QWEN2_DIR, name), path.join(dir, name));
  }
  const python = process.env.DI_PYTHON ?? '/usr/bin/python3';
  const fp16 = path.join(dir, 'fp16');
  const checkpoint = path.join(path.dirname(QWEN2_DIR), 'checkpoints', 'opendcoder-tiny');
  const r = spawnSync(
    python,
    ['-m', 'models.export.convert', '--checkpoint', checkpoint, '--out', fp16, '--fp16-compute'],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(r.status, 0, `fp16 export failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
  const manifest = JSON.parse(fs.readFileSync(path.join(QWEN2_DIR, 'model.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  fs.rmSync(path.join(dir, 'model.json'));
  fs.writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({ ...manifest, onnx_fp16: 'fp16/model.onnx' }),
  );
  return dir;
}

describe('fp16 graph selection (model.json "onnx_fp16")', () => {
  it('the cpu provider always runs fp32; a missing fp16 file is a broken model folder', async () => {
    const dir = tempDir('fp16-missing');
    for (const name of fs.readdirSync(FIXTURE_DIR)) {
      if (name !== 'model.json') {
        fs.symlinkSync(path.join(FIXTURE_DIR, name), path.join(dir, name));
      }
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'model.json'), 'utf8')) as object;
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...manifest, onnx_fp16: 'nope.onnx' }));
    const cpu = await ModelSession.create(loadManifest(dir), { executionProvider: 'cpu', threads: 1 });
    assert.equal(cpu.device.precision, 'fp32');
    await cpu.release();
    const probe = probeWebGpu();
    if (probe.ok) {
      await assert.rejects(
        ModelSession.create(loadManifest(dir), { executionProvider: 'webgpu', threads: 1 }),
        /"onnx_fp16" names .*nope\.onnx, which is missing/,
      );
    }
  });
});

describe('webgpu against cpu', { skip: webgpuSkip() }, () => {
  it('the probe found a working adapter', () => {
    const probe = probeWebGpu();
    assert.ok(probe.ok, `WebGPU session cannot be created: ${probe.reason}`);
    process.stdout.write(
      `# webgpu adapter: ${probe.adapter ?? '(name not reported)'}, shader-f16 ${probe.shaderF16}\n`,
    );
  });

  it('models/default: same masked input, top-1 equal, probabilities within 1e-4', async () => {
    await assertParity(DEFAULT_DIR, 128, 24);
  });

  it('every compute node of models/default/model.onnx runs on WebGPU (only int64 shape arithmetic on the host)', () => {
    const placed = webgpuPlacement(path.join(DEFAULT_DIR, 'model.onnx'));
    const gpu = placed.get('WebGpuExecutionProvider') ?? [];
    const cpu = placed.get('CPUExecutionProvider') ?? [];
    const offending = cpu.filter((n) => !HOST_SHAPE_OPS.has(n.op)).map((n) => `${n.op} (${n.name})`);
    assert.deepEqual(offending, [], 'compute nodes the WebGPU EP handed to the CPU provider');
    const gpuOps = new Set(gpu.map((n) => n.op));
    for (const op of HEAD_COMPUTE_OPS) {
      assert.ok(gpuOps.has(op), `the head's ${op} is not on WebGPU`);
    }
    assert.ok(!cpu.some((n) => HEAD_COMPUTE_OPS.includes(n.op)));
    process.stdout.write(
      `# models/default placement: ${gpu.length} nodes on WebGPU, ${cpu.length} int64 shape nodes on the CPU ` +
        `(${[...new Set(cpu.map((n) => n.op))].join(', ')})\n`,
    );
  });

  it('exported Qwen2 shape (opendcoder-tiny): top-1 equal, probabilities within 1e-4', async () => {
    ensureQwen2Export();
    await assertParity(QWEN2_DIR, 64, 16);
  });

  it('int4 export (MatMulNBits) on WebGPU: every MatMulNBits on the adapter, top-1 equal, probabilities within 1e-4', async () => {
    ensureQwen2Export(); // models.export.tiny writes every variant, qwen3-int4 among them
    const dir = path.join(path.dirname(QWEN2_DIR), 'qwen3-int4');
    const placed = webgpuPlacement(loadManifest(dir).onnxPath);
    const onCpu = (placed.get('CPUExecutionProvider') ?? []).filter((n) => n.op === 'MatMulNBits');
    const onGpu = (placed.get('WebGpuExecutionProvider') ?? []).filter((n) => n.op === 'MatMulNBits');
    assert.ok(onGpu.length > 0, `MatMulNBits nodes on WebGPU: ${JSON.stringify([...placed.keys()])}`);
    assert.deepEqual(onCpu, [], 'no MatMulNBits left on the CPU provider');
    await assertParity(dir, 64, 16);
  });

  it('fp16 graph on a shader-f16 adapter (decided at load), close to the fp32 CPU result', async () => {
    const dir = qwen2WithFp16Graph();
    const manifest = loadManifest(dir);
    const probe = probeWebGpu();
    const gpu = await createOn(manifest, 'webgpu');
    const cpu = await createOn(manifest, 'cpu');
    try {
      if (!probe.shaderF16) {
        assert.equal(gpu.device.precision, 'fp32 (the adapter has no shader-f16)');
        return;
      }
      assert.equal(gpu.device.precision, 'fp16');
      assert.equal(cpu.device.precision, 'fp32');
      const { ids, positions } = maskedInput(manifest, 64, 16);
      const rows = rowsForPositions(positions, manifest.logitShift);
      const a = await cpu.forward(ids, rows);
      const b = await gpu.forward(ids, rows);
      let worst = 0;
      for (let i = 0; i < rows.length; i++) {
        for (let k = 0; k < a[i].probs.length; k++) {
          worst = Math.max(worst, Math.abs(a[i].probs[k] - b[i].probs[k]));
        }
        // Top-1 must agree wherever float16 rounding cannot swap the two best.
        if (a[i].probs[0] - a[i].probs[1] > 2 * FP16_TOLERANCE) {
          assert.equal(b[i].ids[0], a[i].ids[0], `row ${rows[i]}: top-1 id`);
        }
      }
      assert.ok(worst <= FP16_TOLERANCE, `max |dp| ${worst} (fp16 webgpu vs fp32 cpu)`);
      process.stdout.write(
        `# opendcoder-tiny fp16 on webgpu vs fp32 cpu: max |dp| ${worst.toExponential(2)}\n`,
      );
    } finally {
      await gpu.release();
      await cpu.release();
    }
  });

  it('auto does not take a software adapter over the cpu provider; explicit webgpu does and says so', async (t) => {
    const probe = probeWebGpu();
    if (!probe.software) {
      return t.skip(`the adapter is hardware (${probe.adapter}): auto uses it`);
    }
    const auto = await InfillEngine.load({ modelDir: FIXTURE_DIR, executionProvider: 'auto', threads: 1 });
    try {
      assert.notEqual(auto.info.executionProvider, 'webgpu');
      const skipped = auto.info.attempts?.find((a) => a.provider === 'webgpu');
      assert.match(skipped?.reason ?? '', /only a software adapter \(.+\).*"webgpu"/);
    } finally {
      await auto.dispose();
    }
    const forced = await InfillEngine.load({
      modelDir: FIXTURE_DIR,
      executionProvider: 'webgpu',
      threads: 1,
    });
    try {
      assert.equal(forced.info.executionProvider, 'webgpu');
      assert.equal(forced.info.adapter, probe.adapter);
      assert.match(forced.info.providerNote ?? '', /software adapter/);
      assert.match(forced.info.precision ?? '', /^fp32 \(the model folder has no fp16 graph/);
    } finally {
      await forced.dispose();
    }
  });

  it('Diagnose Device times a forward pass on cpu and webgpu side by side', async () => {
    const engine = await InfillEngine.load({
      modelDir: FIXTURE_DIR,
      executionProvider: 'webgpu',
      threads: 1,
    });
    try {
      const report = await deviceReport(engine, 1);
      const cpu = report.timings.find((x) => x.provider === 'cpu');
      const gpu = report.timings.find((x) => x.provider === 'webgpu');
      assert.ok(cpu?.ms !== undefined && cpu.ms > 0, JSON.stringify(cpu));
      assert.ok(gpu?.ms !== undefined && gpu.ms > 0, JSON.stringify(gpu));
      assert.equal(report.adapter, probeWebGpu().adapter);
      const text = describeReport(report).join('\n');
      assert.match(text, /one forward pass at \d+ tokens: cpu [\d.]+ ms \| .*webgpu [\d.]+ ms/);
      process.stdout.write(`# ${text.split('\n').join('\n# ')}\n`);
    } finally {
      await engine.dispose();
    }
  });

  describe('a complete greedy infill through the engine process', () => {
    const clients: EngineClient[] = [];
    after(() => clients.forEach((c) => c.dispose()));
    let request: Omit<InfillRequest, 'id'>;
    before(() => {
      request = {
        prefix: 'def add(a, b):\n',
        suffix: '\n\nprint(add(1, 2))\n',
        canvasTokens: 8,
        languageId: 'python',
        snapshotIntervalMs: 0,
        sampler: { strategy: 'guarded', temperature: 0 },
      };
    });

    /** An engine process with models/default loaded on `provider` (no silent fallback). */
    async function engineOn(provider: 'cpu' | 'webgpu'): Promise<EngineClient> {
      const c = new EngineClient({ enginePath: ENGINE_ENTRY });
      clients.push(c);
      const info = await c.load({ modelDir: DEFAULT_DIR, executionProvider: provider, threads: 1 });
      assert.equal(
        info.executionProvider,
        provider,
        `engine process on ${provider}: ${info.fallbackReason ?? ''}`,
      );
      return c;
    }

    async function run(
      provider: 'cpu' | 'webgpu',
    ): Promise<{ steps: string[]; completion: string; nfe: number }> {
      const c = await engineOn(provider);
      const steps: string[] = [];
      const result = await c.infill(request, (s: Snapshot) =>
        steps.push(`${s.step}:${s.masksLeft}:${s.text}`),
      );
      c.dispose();
      return { steps, completion: result.completion, nfe: result.nfe };
    }

    it('webgpu equals cpu step by step and token for token (models/default)', async () => {
      const cpu = await run('cpu');
      const gpu = await run('webgpu');
      assert.ok(cpu.steps.length >= 2, 'the infill took several steps');
      assert.deepEqual(gpu.steps, cpu.steps);
      assert.equal(gpu.completion, cpu.completion);
      assert.equal(gpu.nfe, cpu.nfe);
    });

    // Refine Selection and the confidence lens run on the same predictor: their scores and rewrite must
    // not depend on the provider either.
    async function scoreAndRefine(provider: 'cpu' | 'webgpu') {
      const c = await engineOn(provider);
      const region = {
        prefix: 'def is_even(n):\n',
        text: '    return n % 2 == 0\n',
        suffix: '\n\nprint(is_even(4))\n',
        languageId: 'python',
        groups: 4,
      };
      const scores = await c.score(region);
      // The lowest score as the threshold: a refinement with at least one re-masked token.
      const threshold = Math.min(...scores.tokens.map((t) => t.prob)) + 1e-6;
      const refined = await c.refine(
        { ...region, threshold, snapshotIntervalMs: 0, sampler: { strategy: 'guarded', temperature: 0 } },
        () => undefined,
      );
      c.dispose();
      return { scores, refined };
    }

    it('Refine Selection and the lens: webgpu scores within 1e-4 of cpu, the same rewrite (models/default)', async () => {
      const cpu = await scoreAndRefine('cpu');
      const gpu = await scoreAndRefine('webgpu');
      assert.ok(cpu.scores.tokens.length >= 5, 'the region was scored token by token');
      assert.deepEqual(
        gpu.scores.tokens.map((t) => [t.start, t.end, t.rank]),
        cpu.scores.tokens.map((t) => [t.start, t.end, t.rank]),
      );
      const delta = Math.max(
        ...cpu.scores.tokens.map((t, i) => Math.abs(t.prob - gpu.scores.tokens[i].prob)),
      );
      assert.ok(delta < 1e-4, `max |Δp| ${delta}`);
      assert.ok(cpu.refined.remasked.length >= 1, 'a token was re-masked');
      assert.deepEqual(gpu.refined.remasked, cpu.refined.remasked);
      assert.equal(gpu.refined.text, cpu.refined.text);
      assert.equal(gpu.refined.passes, cpu.refined.passes);
    });
  });
});
