// Typed view of the diffusionInfill.* settings and the model folder resolution: which folder, where its
// value came from (user / remote / workspace / workspace folder / bundled), which scope Select Model
// must write to so the new value is the effective one, and warnings for a value set where it cannot
// apply. The model folder is a restricted setting (package.json capabilities.untrustedWorkspaces): in an
// untrusted workspace VS Code ignores workspace values for it, so a repository cannot point the engine
// at files of its choosing. It is machine-overridable: in a remote window (code-server, SSH, WSL) a
// value in the local User settings does not apply; only the Remote settings or the workspace do.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  effectiveFolderValue,
  resolveFolder,
  type FolderLevel,
  type FolderSource,
  type FolderValue,
} from './folderValue';
import type {
  EndRuleName,
  ExecutionProviderChoice,
  LengthRuleName,
  InfillRequest,
  LoadOptions,
  SamplerOptions,
  StrategyName,
} from '../engine/protocol';

export const SECTION = 'diffusionInfill';

export type { FolderSource } from './folderValue';

export interface Settings {
  /** Resolved absolute model folder. */
  modelFolder: string;
  /** Where the effective value came from ('bundled': no value set, the extension's own model). */
  modelFolderSource: FolderSource;
  /** Values set where they cannot apply (shown once as a warning, logged on every load). */
  modelFolderWarnings: string[];
  executionProvider: ExecutionProviderChoice;
  threads: number;
  sampler: Partial<SamplerOptions>;
  prefixTokens: number;
  suffixTokens: number;
  canvasSlack: number;
  defaultLength: number;
  placeholder: string;
  snapshotIntervalMs: number;
  idleUnloadMs: number;
}

export interface SettingsContext {
  extensionPath: string;
  /** The User settings.json of this window (to spot a value a remote window ignores), if known. */
  userSettingsFile?: string;
}

/** Settings as seen from the active editor's workspace folder (a workspace-folder value applies there). */
export function readSettings(ctx: SettingsContext): Settings {
  const scope = activeFolder();
  const c = vscode.workspace.getConfiguration(SECTION, scope?.uri);
  const folder = modelFolderValue(scope);
  const sampler: Partial<SamplerOptions> = {
    strategy: c.get<StrategyName>('sampler.strategy', 'guarded'),
    threshold: c.get<number>('sampler.threshold', 0.9),
    entropyBound: c.get<number>('sampler.entropyBound', 0.5),
    steps: c.get<number>('sampler.steps', 32),
    temperature: c.get<number>('sampler.temperature', 0),
    blockSize: c.get<number>('sampler.blockSize', 32),
    endRule: c.get<EndRuleName>('sampler.endRule', 'evidence'),
    lengthCandidates: c.get<number>('sampler.lengthCandidates', 4),
    lengthRule: c.get<LengthRuleName>('sampler.lengthRule', 'mean-logprob'),
    candidates: c.get<number>('sampler.candidates', 3),
    candidateTemperature: c.get<number>('sampler.candidateTemperature', 0.7),
    unsureBelow: c.get<number>('sampler.unsureBelow', 0.5),
  };
  return {
    modelFolder: folder ? resolveFolder(folder.value, folder.base) : bundledModelFolder(ctx.extensionPath),
    modelFolderSource: folder?.source ?? 'bundled',
    modelFolderWarnings: folderWarnings(folder, ctx.userSettingsFile),
    executionProvider: c.get<ExecutionProviderChoice>('model.executionProvider', 'auto'),
    threads: Math.max(0, Math.floor(c.get<number>('model.threads', 0))),
    sampler,
    prefixTokens: c.get<number>('context.prefixTokens', 192),
    suffixTokens: c.get<number>('context.suffixTokens', 96),
    canvasSlack: c.get<number>('context.canvasSlack', 0.25),
    defaultLength: c.get<number>('context.defaultLength', 32),
    placeholder: c.get<string>('preview.placeholder', '▓') || '▓',
    snapshotIntervalMs: Math.max(0, c.get<number>('preview.snapshotInterval', 40)),
    idleUnloadMs: Math.max(0, c.get<number>('model.idleUnloadMinutes', 10)) * 60_000,
  };
}

export function loadOptions(s: Settings): LoadOptions {
  return { modelDir: s.modelFolder, executionProvider: s.executionProvider, threads: s.threads };
}

/** The request fields that come from settings (the caller adds prefix/suffix/selection). */
export function requestOptions(s: Settings): Partial<Omit<InfillRequest, 'id'>> {
  return {
    prefixBudget: s.prefixTokens,
    suffixBudget: s.suffixTokens,
    canvasSlack: s.canvasSlack,
    defaultCanvasTokens: s.defaultLength,
    sampler: s.sampler,
    snapshotIntervalMs: s.snapshotIntervalMs,
    placeholder: s.placeholder,
  };
}

/** models/default inside the extension, or models/fixture when default is not shipped. */
export function bundledModelFolder(extensionPath: string): string {
  const preferred = path.join(extensionPath, 'models', 'default');
  if (fs.existsSync(path.join(preferred, 'model.json'))) {
    return preferred;
  }
  const fixture = path.join(extensionPath, 'models', 'fixture');
  if (fs.existsSync(path.join(fixture, 'model.json'))) {
    return fixture;
  }
  return preferred;
}

/** The editor's folder (multi-root: the one holding the active document), else the first one. */
function activeFolder(): vscode.WorkspaceFolder | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  return (uri && vscode.workspace.getWorkspaceFolder(uri)) || vscode.workspace.workspaceFolders?.[0];
}

const TARGETS: Record<FolderLevel, vscode.ConfigurationTarget> = {
  workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
  workspace: vscode.ConfigurationTarget.Workspace,
  global: vscode.ConfigurationTarget.Global,
};

/** The effective model.folder value seen from `scope` (folderValue.ts), with the level to write to. */
function modelFolderValue(
  scope: vscode.WorkspaceFolder | undefined,
): (FolderValue & { target: vscode.ConfigurationTarget }) | undefined {
  const inspected = vscode.workspace.getConfiguration(SECTION, scope?.uri).inspect<string>('model.folder');
  const file = vscode.workspace.workspaceFile;
  const v = effectiveFolderValue(inspected, {
    folderPath: scope?.uri.fsPath,
    multiRoot: file !== undefined,
    workspaceFileDir: file?.scheme === 'file' ? path.dirname(file.fsPath) : undefined,
    remote: !!vscode.env.remoteName,
    home: os.homedir(),
  });
  return v && { ...v, target: TARGETS[v.level] };
}

/** Where Select Model writes: the scope that holds the effective value (else the user settings). */
export function modelFolderTarget(): { target: vscode.ConfigurationTarget; scope?: vscode.Uri } {
  const scope = activeFolder();
  const v = modelFolderValue(scope);
  return { target: v?.target ?? vscode.ConfigurationTarget.Global, scope: scope?.uri };
}

function folderWarnings(effective: FolderValue | undefined, userSettingsFile: string | undefined): string[] {
  const warnings: string[] = [];
  const i = vscode.workspace.getConfiguration(SECTION).inspect<string>('model.folder');
  if (!vscode.workspace.isTrusted && (i?.workspaceValue || i?.workspaceFolderValue)) {
    warnings.push(
      'diffusionInfill.model.folder is set in the workspace settings, which VS Code ignores in an untrusted workspace.',
    );
  }
  if (vscode.env.remoteName && userSettingsFile) {
    const local = userSettingValue(userSettingsFile, `${SECTION}.model.folder`);
    if (local && local !== effective?.value) {
      warnings.push(
        `diffusionInfill.model.folder is set to "${local}" in ${userSettingsFile}, which a remote window ignores for this machine-scoped setting; set it in the Remote settings (Preferences: Open Remote Settings) or the workspace settings.`,
      );
    }
  }
  return warnings;
}

/** A string value from a settings.json (JSON with comments), without a JSONC parser: the key is unique. */
function userSettingValue(file: string, key: string): string | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const m = new RegExp(`"${key.replace(/\./g, '\\.')}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(text);
    return m ? (JSON.parse(`"${m[1]}"`) as string).trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** "<folder> (from user settings)" / "<folder> (bundled)": the form every log line and Diagnose use. */
export function describeFolder(s: Settings): string {
  return `${s.modelFolder} (${s.modelFolderSource === 'bundled' ? 'bundled' : `from ${s.modelFolderSource}`})`;
}
