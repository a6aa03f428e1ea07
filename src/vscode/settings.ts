// Typed view of the diffusionInfill.* settings and the model folder resolution.
// The model folder is a restricted setting (package.json capabilities.untrustedWorkspaces): in an
// untrusted workspace VS Code ignores workspace values for it, so a repository cannot point the engine
// at files of its choosing.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
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

export interface Settings {
  /** Resolved absolute model folder. */
  modelFolder: string;
  /** Whether modelFolder came from the setting (false: the bundled default). */
  modelFolderFromSetting: boolean;
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

export function readSettings(extensionPath: string): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const folderSetting = (c.get<string>('model.folder') ?? '').trim();
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
    modelFolder: folderSetting ? resolveFolder(folderSetting) : bundledModelFolder(extensionPath),
    modelFolderFromSetting: folderSetting.length > 0,
    executionProvider: c.get<ExecutionProviderChoice>('model.executionProvider', 'auto'),
    threads: Math.max(0, Math.floor(c.get<number>('model.threads', 0))),
    sampler,
    prefixTokens: c.get<number>('context.prefixTokens', 192),
    suffixTokens: c.get<number>('context.suffixTokens', 96),
    canvasSlack: c.get<number>('context.canvasSlack', 0.25),
    defaultLength: c.get<number>('context.defaultLength', 32),
    placeholder: c.get<string>('preview.placeholder', '░') || '░',
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

function resolveFolder(value: string): string {
  let p = value;
  if (p === '~' || p.startsWith('~/')) {
    p = path.join(os.homedir(), p.slice(1));
  }
  if (!path.isAbsolute(p)) {
    const ws = vscode.workspace.workspaceFolders?.[0];
    p = ws ? path.join(ws.uri.fsPath, p) : path.resolve(p);
  }
  return p;
}
