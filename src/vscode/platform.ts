// Checked first at activation: can ONNX Runtime's native binding load on this machine? Each VSIX holds
// the binaries of one platform target only, so a VSIX installed on another platform (a file copied
// between machines), a platform onnxruntime-node has no build for (Intel macOS with 1.30, FreeBSD) or
// a musl Linux (its Linux binaries need glibc) would otherwise fail deep inside the engine process.
// Instead the user gets one clear message, and every command repeats it rather than "not found".
// The decision is a pure function of the facts (unit-tested); only `guardPlatform` touches VS Code,
// through the API object it is given, so this module loads outside VS Code too.
import type * as vscode from 'vscode';
import { resolvePackageFile } from '../engine/resolve';

/** The targets `npm run package` builds a VSIX for (onnxruntime-node 1.30 has binaries for these). */
export const SUPPORTED_TARGETS: readonly string[] = [
  'linux-x64',
  'linux-arm64',
  'win32-x64',
  'win32-arm64',
  'darwin-arm64',
];

export interface PlatformFacts {
  platform: string;
  arch: string;
  /** Linux only: whether the C library is glibc (false on musl, e.g. Alpine). */
  glibc: boolean;
  /** Whether this installation holds onnxruntime-node's binding for platform/arch. */
  bindingFound: boolean;
}

/** Why the engine cannot run here, or undefined when it can. */
export function platformProblem(f: PlatformFacts): string | undefined {
  const target = `${f.platform}-${f.arch}`;
  const supported = `Supported: ${SUPPORTED_TARGETS.join(', ')}.`;
  if (!SUPPORTED_TARGETS.includes(target)) {
    return `Diffusion Infill does not run on ${target}: ONNX Runtime (onnxruntime-node) has no prebuilt binary for it. ${supported}`;
  }
  if (f.platform === 'linux' && !f.glibc) {
    return `Diffusion Infill does not run on musl-based Linux (e.g. Alpine): ONNX Runtime's Linux binaries need glibc. ${supported}`;
  }
  if (!f.bindingFound) {
    return `This copy of Diffusion Infill has no ONNX Runtime binary for ${target}: it was built for another platform. Install the ${target} VSIX.`;
  }
  return undefined;
}

export function currentPlatformFacts(): PlatformFacts {
  const { platform, arch } = process;
  let glibc = true;
  if (platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
      ?.header;
    glibc = typeof header?.glibcVersionRuntime === 'string';
  }
  const binding = resolvePackageFile(
    'onnxruntime-node',
    `bin/napi-v6/${platform}/${arch}/onnxruntime_binding.node`,
  );
  return { platform, arch, glibc, bindingFound: binding !== undefined };
}

/**
 * Returns true when the extension can run. Otherwise shows the reason and registers every
 * contributed command to show it again, and returns false (activate() then stops).
 */
export function guardPlatform(
  context: vscode.ExtensionContext,
  api: Pick<typeof vscode, 'window' | 'commands'>,
  facts: PlatformFacts = currentPlatformFacts(),
): boolean {
  const problem = platformProblem(facts);
  if (!problem) {
    return true;
  }
  const show = () => void api.window.showErrorMessage(problem);
  const commands = (context.extension.packageJSON?.contributes?.commands ?? []) as { command: string }[];
  for (const { command } of commands) {
    context.subscriptions.push(api.commands.registerCommand(command, show));
  }
  show();
  return false;
}
