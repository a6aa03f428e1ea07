// The activation-time platform check: which machines get a clear message instead of a crash, and
// that on those the contributed commands repeat the message instead of failing as "not found".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as vscode from 'vscode';
import {
  currentPlatformFacts,
  guardPlatform,
  platformProblem,
  SUPPORTED_TARGETS,
  type PlatformFacts,
} from '../../src/vscode/platform';

const OK: PlatformFacts = { platform: 'linux', arch: 'x64', glibc: true, bindingFound: true };

describe('platform check at activation', () => {
  it('supported targets with their binding pass', () => {
    for (const target of SUPPORTED_TARGETS) {
      const [platform, arch] = target.split('-');
      assert.equal(platformProblem({ platform, arch, glibc: true, bindingFound: true }), undefined, target);
    }
  });

  it('an unsupported platform or architecture is named, with the supported list', () => {
    for (const [platform, arch] of [
      ['darwin', 'x64'],
      ['freebsd', 'x64'],
      ['linux', 'ia32'],
      ['win32', 'ia32'],
    ]) {
      const problem = platformProblem({ platform, arch, glibc: true, bindingFound: false });
      assert.ok(problem?.includes(`does not run on ${platform}-${arch}`), problem);
      assert.ok(problem?.includes('Supported: linux-x64, linux-arm64'), problem);
    }
  });

  it('musl Linux is refused even with the binding present', () => {
    const problem = platformProblem({ ...OK, glibc: false });
    assert.match(problem ?? '', /musl/);
  });

  it('a VSIX for another target (binding missing) says which VSIX to install', () => {
    const problem = platformProblem({ ...OK, arch: 'arm64', bindingFound: false });
    assert.match(problem ?? '', /no ONNX Runtime binary for linux-arm64.*Install the linux-arm64 VSIX/);
  });

  it('this checkout (linux-x64, node_modules) passes', () => {
    const facts = currentPlatformFacts();
    assert.equal(facts.bindingFound, true, JSON.stringify(facts));
    assert.equal(platformProblem(facts), undefined);
  });

  it('guardPlatform: shows the message once and registers every contributed command to repeat it', () => {
    const shown: string[] = [];
    const registered = new Map<string, () => void>();
    const api = {
      window: { showErrorMessage: (m: string) => (shown.push(m), Promise.resolve(undefined)) },
      commands: {
        registerCommand: (id: string, run: () => void) => (registered.set(id, run), { dispose() {} }),
      },
    } as unknown as Pick<typeof vscode, 'window' | 'commands'>;
    const subscriptions: { dispose(): void }[] = [];
    const context = {
      subscriptions,
      extension: { packageJSON: { contributes: { commands: [{ command: 'a.one' }, { command: 'a.two' }] } } },
    } as unknown as vscode.ExtensionContext;

    assert.equal(guardPlatform(context, api, { ...OK, platform: 'freebsd' }), false);
    assert.equal(shown.length, 1);
    assert.match(shown[0], /freebsd-x64/);
    assert.deepEqual([...registered.keys()], ['a.one', 'a.two']);
    assert.equal(subscriptions.length, 2);
    registered.get('a.two')?.();
    assert.equal(shown.length, 2);

    shown.length = 0;
    registered.clear();
    assert.equal(guardPlatform(context, api, OK), true);
    assert.equal(shown.length, 0);
    assert.equal(registered.size, 0);
  });
});
