// Which model.folder value applies and what a relative one resolves against (src/vscode/folderValue.ts,
// pure): a folder value of its own per workspace folder in a multi-root window, the workspace file's
// folder for a workspace value, the home folder for a user or remote value. The in-host suite opens one
// folder, so the multi-root cases live here.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { effectiveFolderValue, resolveFolder, type WindowShape } from '../../src/vscode/folderValue';

const HOME = path.join(path.sep, 'home', 'dev');
const WS = path.join(path.sep, 'work', 'monorepo');
const A = path.join(WS, 'service-a');
const B = path.join(WS, 'service-b');

const multiRoot = (folderPath: string): WindowShape => ({
  folderPath,
  multiRoot: true,
  workspaceFileDir: WS,
  remote: false,
  home: HOME,
});

function resolved(inspect: Parameters<typeof effectiveFolderValue>[0], w: WindowShape): string | undefined {
  const v = effectiveFolderValue(inspect, w);
  return v && resolveFolder(v.value, v.base, w.home);
}

describe('model folder value', () => {
  it('multi-root: each workspace folder resolves its own relative value against itself', () => {
    const a = effectiveFolderValue(
      { workspaceFolderValue: 'models/m', workspaceValue: 'shared' },
      multiRoot(A),
    );
    assert.deepEqual(a, {
      value: 'models/m',
      source: 'workspace folder settings',
      base: A,
      level: 'workspaceFolder',
    });
    assert.equal(resolved({ workspaceFolderValue: 'models/m' }, multiRoot(A)), path.join(A, 'models', 'm'));
    assert.equal(resolved({ workspaceFolderValue: 'models/m' }, multiRoot(B)), path.join(B, 'models', 'm'));
    assert.equal(
      resolved({ workspaceFolderValue: '../b/models' }, multiRoot(A)),
      path.join(WS, 'b', 'models'),
    );
  });

  it('multi-root: a folder without its own value takes the workspace value, relative to the .code-workspace folder', () => {
    const v = effectiveFolderValue({ workspaceValue: 'models/shared', globalValue: '/opt/m' }, multiRoot(B));
    assert.deepEqual(v, {
      value: 'models/shared',
      source: 'workspace settings',
      base: WS,
      level: 'workspace',
    });
    assert.equal(resolveFolder(v!.value, v!.base, HOME), path.join(WS, 'models', 'shared'));
    // An untitled workspace has no file on disk: its first-level folder is the base instead.
    const untitled = { ...multiRoot(B), workspaceFileDir: undefined };
    assert.equal(resolved({ workspaceValue: 'models/shared' }, untitled), path.join(B, 'models', 'shared'));
  });

  it('single folder: the value VS Code reports at both levels is the workspace settings, relative to the folder', () => {
    const single: WindowShape = { folderPath: A, multiRoot: false, remote: false, home: HOME };
    const v = effectiveFolderValue({ workspaceFolderValue: 'm', workspaceValue: 'm' }, single);
    assert.deepEqual(v, { value: 'm', source: 'workspace settings', base: A, level: 'workspace' });
  });

  it('a user or remote value resolves against the home folder, never an open folder', () => {
    assert.equal(resolved({ globalValue: 'models/m' }, multiRoot(A)), path.join(HOME, 'models', 'm'));
    const remote = effectiveFolderValue({ globalValue: 'm' }, { ...multiRoot(A), remote: true });
    assert.equal(remote?.source, 'remote settings');
    assert.equal(remote?.level, 'global');
    assert.equal(effectiveFolderValue({ globalValue: 'm' }, multiRoot(A))?.source, 'user settings');
    // No folder open at all: a workspace-less window still resolves a user value.
    assert.equal(
      resolved({ globalValue: 'm' }, { multiRoot: false, remote: false, home: HOME }),
      path.join(HOME, 'm'),
    );
  });

  it('~ and absolute paths; blank values count as unset (the bundled model)', () => {
    assert.equal(
      resolved({ workspaceFolderValue: '~/models/m' }, multiRoot(A)),
      path.join(HOME, 'models', 'm'),
    );
    assert.equal(resolved({ workspaceFolderValue: '~' }, multiRoot(A)), HOME);
    const abs = path.join(path.sep, 'opt', 'models', 'm');
    assert.equal(resolved({ workspaceFolderValue: abs }, multiRoot(A)), abs);
    assert.equal(
      effectiveFolderValue(
        { workspaceFolderValue: '  ', workspaceValue: '', globalValue: ' ' },
        multiRoot(A),
      ),
      undefined,
    );
    assert.equal(effectiveFolderValue(undefined, multiRoot(A)), undefined);
    assert.equal(resolved({ workspaceFolderValue: ' m ' }, multiRoot(A)), path.join(A, 'm'), 'trimmed');
  });
});
