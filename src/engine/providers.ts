// Which onnxruntime execution providers to try, in order, for a user's choice. `auto` prefers the
// platform's GPU provider; CPU is always the last resort so a model always runs.
import type { ExecutionProviderChoice } from './protocol';

export type ProviderName = 'cpu' | 'cuda' | 'dml' | 'coreml';

/** The GPU provider that the prebuilt onnxruntime-node binaries offer on this platform, if any. */
export function platformGpuProvider(
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): ProviderName | undefined {
  if (platform === 'linux' && arch === 'x64') {
    return 'cuda';
  }
  if (platform === 'win32') {
    return 'dml';
  }
  if (platform === 'darwin') {
    return 'coreml';
  }
  return undefined;
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
    const gpu = platformGpuProvider(platform, arch);
    return gpu ? [gpu, 'cpu'] : ['cpu'];
  }
  return [choice, 'cpu'];
}
