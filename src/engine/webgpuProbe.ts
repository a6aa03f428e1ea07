// Asks, in a short-lived child process, whether onnxruntime-node's WebGPU execution provider can run
// here, on which adapter, and whether that adapter runs float16 shaders. A child process because:
//   - onnxruntime-node exposes no adapter information (`ort.env.webgpu` is an empty object in Node 1.30,
//     `env.webgpu.adapter` stays undefined), and the reasons Dawn gives for failing ("Couldn't load
//     Vulkan: libvulkan.so.1 ...", "vkCreateInstance: Found no drivers!") are printed on the native
//     stderr, which only a parent process can read;
//   - on Linux the Vulkan loader, with VK_LOADER_DEBUG=driver, names the device Dawn opened
//     (`Using "llvmpipe (LLVM 15.0.6, 256 bits)" with driver: "..."`): that is the adapter name;
//   - a driver crash during Dawn's start-up takes down the probe, not the engine.
// The probe runs a one-node graph (probeGraph.ts) in fp32 and fp16 with CPU fallback disabled and checks
// the numbers, so "WebGPU works" means a kernel really ran on the adapter.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ONNX_FLOAT, ONNX_FLOAT16, reluModel } from './probeGraph';
import { resolvePackageFile } from './resolve';

export interface WebGpuProbe {
  ok: boolean;
  /** Device name as the Vulkan loader reports it (Linux), e.g. "NVIDIA H200" or "llvmpipe (LLVM ...)". */
  adapter?: string;
  /** A CPU rasteriser (lavapipe/llvmpipe, SwiftShader, WARP): correct but slower than the CPU provider. */
  software: boolean;
  /** float16 kernels ran on the adapter (the shader-f16 feature). */
  shaderF16: boolean;
  /** Why it cannot be used, spelled out for the user (only when !ok). */
  reason?: string;
  ms: number;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|\bwarp\b|microsoft basic render/i;

export function isSoftwareAdapter(name: string | undefined): boolean {
  return name !== undefined && SOFTWARE_ADAPTER.test(name);
}

/** Runs in the child: prints one line `DI_PROBE {"f32": ..., "f16": ...}` on stdout. */
const PROBE_SCRIPT = `
const ort = require(process.env.DI_PROBE_ORT);
const run = async (b64, type, input, expect) => {
  try {
    const s = await ort.InferenceSession.create(Buffer.from(b64, 'base64'), {
      executionProviders: ['webgpu'], logSeverityLevel: 3,
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    const out = await s.run({ x: new ort.Tensor(type, input, [4]) });
    const got = Array.from(out.y.data).map(Number);
    await s.release();
    return got.join(',') === expect.join(',') ? 'ok' : 'wrong result ' + got.join(',');
  } catch (e) { return 'error ' + String(e && e.message || e).split('\\n')[0]; }
};
(async () => {
  const f32 = await run(process.env.DI_PROBE_F32, 'float32', Float32Array.from([-1, 2, -3, 4]), [0, 2, 0, 4]);
  // float16 bits of -1, 2, -3, 4 and of the expected 0, 2, 0, 4
  const f16 = f32 !== 'ok' ? 'skipped' : await run(process.env.DI_PROBE_F16, 'float16',
    Uint16Array.from([0xbc00, 0x4000, 0xc200, 0x4400]), [0, 0x4000, 0, 0x4400]);
  process.stdout.write('DI_PROBE ' + JSON.stringify({ f32, f16 }) + '\\n');
})();
`;

let cached: WebGpuProbe | undefined;

/** The probe's result for this process (the adapter does not change while it runs). */
export function probeWebGpu(): WebGpuProbe {
  cached ??= runProbe();
  return cached;
}

function runProbe(): WebGpuProbe {
  const t0 = performance.now();
  const ortPackage = resolvePackageFile('onnxruntime-node', 'package.json');
  if (!ortPackage) {
    return { ok: false, software: false, shaderF16: false, reason: 'onnxruntime-node not found', ms: 0 };
  }
  const r = spawnSync(process.execPath, ['-e', PROBE_SCRIPT], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      // In VS Code the engine runs under Electron's Node; the probe must too.
      ELECTRON_RUN_AS_NODE: '1',
      VK_LOADER_DEBUG: 'error,warn,driver',
      DI_PROBE_ORT: path.dirname(ortPackage),
      DI_PROBE_F32: Buffer.from(reluModel(ONNX_FLOAT)).toString('base64'),
      DI_PROBE_F16: Buffer.from(reluModel(ONNX_FLOAT16)).toString('base64'),
    },
  });
  const ms = Math.round(performance.now() - t0);
  return interpretProbe(r.stdout ?? '', r.stderr ?? '', r.status, r.error?.message, ms);
}

/** Turns the probe's output into a verdict; separate from the spawn so tests can feed it real logs. */
export function interpretProbe(
  stdout: string,
  stderr: string,
  status: number | null,
  spawnError: string | undefined,
  ms: number,
): WebGpuProbe {
  // The last device created is the one the probe's sessions ran on (Dawn may open others while choosing).
  const adapter = [...stderr.matchAll(/Using "([^"]+)" with driver/g)].pop()?.[1];
  const software = isSoftwareAdapter(adapter);
  const line = /^DI_PROBE (.*)$/m.exec(stdout)?.[1];
  let verdict: { f32: string; f16: string } | undefined;
  try {
    verdict = line ? (JSON.parse(line) as { f32: string; f16: string }) : undefined;
  } catch {
    verdict = undefined;
  }
  if (verdict?.f32 === 'ok') {
    return { ok: true, adapter, software, shaderF16: verdict.f16 === 'ok', ms };
  }
  const detail = verdict?.f32 ?? spawnError ?? `probe exited with status ${status}: ${lastLine(stderr)}`;
  return { ok: false, adapter, software, shaderF16: false, reason: explainFailure(stderr, detail), ms };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .pop() ?? ''
  );
}

/** The actionable reading of Dawn's and the Vulkan loader's messages. */
export function explainFailure(stderr: string, detail: string): string {
  if (/libvulkan\.so\.1: cannot open shared object file|Couldn't load Vulkan/.test(stderr)) {
    return (
      'no Vulkan loader (libvulkan.so.1 not found): install it, e.g. Debian/Ubuntu `sudo apt install libvulkan1 ' +
      'mesa-vulkan-drivers` (AMD/Intel) or the NVIDIA driver with its Vulkan ICD'
    );
  }
  if (/Found no drivers|VK_ERROR_INCOMPATIBLE_DRIVER/.test(stderr)) {
    return (
      "the Vulkan loader found no driver: install your GPU's Vulkan driver, e.g. Debian/Ubuntu `mesa-vulkan-drivers` " +
      '(AMD/Intel) or the NVIDIA driver with its Vulkan ICD'
    );
  }
  const required = /Vulkan (\S+ required)/.exec(stderr)?.[1];
  if (required) {
    return `no usable WebGPU adapter: the Vulkan driver lacks a feature Dawn needs (${required}); update the driver`;
  }
  if (/Failed to get a WebGPU adapter|No supported adapters/.test(detail)) {
    return 'no WebGPU adapter: no GPU driver offered one (Vulkan on Linux, D3D12 on Windows, Metal on macOS)';
  }
  return `WebGPU failed: ${detail}`;
}
