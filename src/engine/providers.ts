// Which onnxruntime execution providers to try, in order, for a user's choice. `auto` prefers a GPU:
// CUDA (only where its provider libraries are installed), then WebGPU (bundled in onnxruntime-node on
// Linux x64, Windows and macOS: Vulkan / D3D12 / Metal), then the platform's own provider (DirectML,
// CoreML); CPU is always the last resort so a model always runs.
import type { ExecutionProviderChoice } from './protocol';

export type ProviderName = 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml';

/** A provider that was tried (or checked) and not used, and why. */
export interface ProviderAttempt {
  provider: ProviderName;
  reason: string;
}

/** GPU providers the prebuilt onnxruntime-node binaries offer on this platform, in `auto` order. */
export function platformGpuProviders(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): ProviderName[] {
  if (platform === 'linux') {
    // CUDA and WebGPU are in the Linux x64 build only (no GPU provider on Linux arm64).
    return arch === 'x64' ? ['cuda', 'webgpu'] : [];
  }
  if (platform === 'win32') {
    return arch === 'x64' ? ['webgpu', 'dml'] : ['dml'];
  }
  if (platform === 'darwin') {
    return ['webgpu', 'coreml'];
  }
  return [];
}

/** Providers to try in order; the first that creates a session wins. */
export function providerOrder(
  choice: ExecutionProviderChoice,
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): ProviderName[] {
  if (choice === 'cpu') {
    return ['cpu'];
  }
  if (choice === 'auto') {
    return [...platformGpuProviders(platform, arch), 'cpu'];
  }
  return [choice, 'cpu'];
}

/** One line for logs and tooltips: "cuda: <reason>; webgpu: <reason>". */
export function describeAttempts(
  attempts: readonly { provider: string; reason: string }[],
): string | undefined {
  return attempts.length > 0 ? attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ') : undefined;
}
