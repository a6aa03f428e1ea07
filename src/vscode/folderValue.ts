// Where the effective diffusionInfill.model.folder value lives and what a relative value resolves
// against: a pure function of VS Code's inspect() result and the window's shape (no vscode import),
// so that multi-root windows, which the in-host suite (one folder) cannot open, are unit-tested.

import * as os from 'os';
import * as path from 'path';

export type FolderSource =
  'user settings' | 'remote settings' | 'workspace settings' | 'workspace folder settings' | 'bundled';

/** The settings level holding a value (mapped to vscode.ConfigurationTarget by settings.ts). */
export type FolderLevel = 'workspaceFolder' | 'workspace' | 'global';

/** The values of inspect('model.folder') that count here. */
export interface FolderInspect {
  workspaceFolderValue?: string;
  workspaceValue?: string;
  globalValue?: string;
}

export interface WindowShape {
  /** The workspace folder the value is read for (the active editor's, else the first), if any. */
  folderPath?: string;
  /** A workspace file is open (a multi-root window, saved or untitled). */
  multiRoot: boolean;
  /** The folder of the saved .code-workspace file (undefined: untitled or no workspace file). */
  workspaceFileDir?: string;
  /** A remote window (code-server, SSH, WSL): the global level is the Remote settings. */
  remote: boolean;
  home: string;
}

export interface FolderValue {
  value: string;
  source: Exclude<FolderSource, 'bundled'>;
  /** What a relative value resolves against: the folder (or workspace file) whose settings hold it. */
  base: string;
  level: FolderLevel;
}

/** The effective value, where it lives and its base; undefined when none is set (the bundled model). */
export function effectiveFolderValue(i: FolderInspect | undefined, w: WindowShape): FolderValue | undefined {
  const folderValue = i?.workspaceFolderValue?.trim();
  // In a single-folder window the folder's settings are the workspace settings (VS Code reports the
  // value at both levels): call it that, and write it there. Multi-root: a folder value of its own.
  if (folderValue && w.folderPath !== undefined && w.multiRoot) {
    return {
      value: folderValue,
      source: 'workspace folder settings',
      base: w.folderPath,
      level: 'workspaceFolder',
    };
  }
  const workspaceValue = i?.workspaceValue?.trim();
  if (workspaceValue) {
    return {
      value: workspaceValue,
      source: 'workspace settings',
      base: w.workspaceFileDir ?? w.folderPath ?? w.home,
      level: 'workspace',
    };
  }
  const globalValue = i?.globalValue?.trim();
  if (globalValue) {
    // A user (or remote) value belongs to no workspace: relative to the home folder, never to
    // whichever folder happens to be open or to the process's working directory.
    return {
      value: globalValue,
      source: w.remote ? 'remote settings' : 'user settings',
      base: w.home,
      level: 'global',
    };
  }
  return undefined;
}

/** The absolute folder a value names: `~` is the home folder, a relative path is taken from `base`. */
export function resolveFolder(value: string, base: string, home = os.homedir()): string {
  let p = value;
  if (p === '~' || p.startsWith('~/')) {
    p = path.join(home, p.slice(1));
  }
  return path.isAbsolute(p) ? p : path.join(base, p);
}
