// deactivate() in the real extension host, as VS Code calls it when the window closes or the extension
// is disabled: it stops the engine process and resolves only once that process has exited (a host
// that went away before would leave the native process behind). This file runs last (index.ts):
// afterwards the extension has no engine.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TestHooks } from '../../src/extension';
import {
  api,
  closeAllEditors,
  fixtureModel,
  openFile,
  resetSettings,
  setSetting,
  startSession,
  waitForState,
} from './helpers';

/** Whether a process with this pid exists (signal 0 only checks; ESRCH: gone and reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('deactivate', function () {
  let a: TestHooks;

  before(async () => {
    a = await api();
    await setSetting('model.folder', fixtureModel());
  });

  after(async () => {
    await closeAllEditors();
    await resetSettings(['model.folder']);
  });

  it('stops the engine process and resolves once it has exited; a second call is harmless', async () => {
    const editor = await openFile('def add(a, b):\n    return a + b\n');
    editor.selection = new vscode.Selection(1, 4, 1, 16);
    const s = await startSession(a, 'diffusionInfill.infillSelection');
    await waitForState(s, ['ready']);
    await vscode.commands.executeCommand('diffusionInfill.reject');
    const pid = a.engine.pid;
    assert.ok(pid !== undefined && alive(pid), `an engine process is running (pid ${pid})`);

    await a.deactivate();
    assert.strictEqual(alive(pid), false, `engine pid ${pid} has exited when deactivate resolves`);
    await a.deactivate();
  });
});
