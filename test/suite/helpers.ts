// Helpers for the in-host suite: the extension's test hooks (from activate() under DI_TEST_HOOKS=1), real files in a temp
// workspace folder, settings, and waiting on session state through the API's events.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { InfillResult, Snapshot } from '../../src/engine/protocol';
import type { TestHooks } from '../../src/extension';
import type { PreviewSession, SessionState } from '../../src/vscode/preview';

export const EXTENSION_ID = 'diffusion-infill.diffusion-infill';

/** The extension's test hooks: activate() returns them only when the host runs with DI_TEST_HOOKS=1. */
export async function api(): Promise<TestHooks> {
  const ext = vscode.extensions.getExtension<TestHooks | undefined>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not loaded in this extension host`);
  const hooks = ext.isActive ? ext.exports : await ext.activate();
  assert.ok(hooks, 'the extension returned no test hooks: start the extension host with DI_TEST_HOOKS=1');
  return hooks;
}

export function extensionPath(): string {
  return vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
}

export function fixtureModel(): string {
  return process.env.DI_TEST_MODEL || path.join(extensionPath(), 'models', 'fixture');
}

let scratch: string | undefined;

/** A temp folder for test files (outside the workspace, which the browser tests use afterwards). */
export function scratchDir(): string {
  if (!scratch) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'di-suite-'));
  }
  return scratch;
}

let fileCounter = 0;

/** Writes `content` to a new file and opens it in an editor (focused). */
export async function openFile(content: string, ext = 'py'): Promise<vscode.TextEditor> {
  const file = path.join(scratchDir(), `case${++fileCounter}.${ext}`);
  fs.writeFileSync(file, content);
  const document = await vscode.workspace.openTextDocument(file);
  return vscode.window.showTextDocument(document, { preview: false });
}

/** Closes every editor, reverting unsaved changes first (no "save changes?" dialog). */
export async function closeAllEditors(): Promise<void> {
  for (const document of vscode.workspace.textDocuments.filter((d) => d.isDirty && !d.isClosed)) {
    await vscode.window.showTextDocument(document);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace
    .getConfiguration('diffusionInfill')
    .update(key, value, vscode.ConfigurationTarget.Global);
}

export async function resetSettings(keys: string[]): Promise<void> {
  for (const key of keys) {
    await setSetting(key, undefined);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}

export function waitForState(
  session: PreviewSession,
  states: SessionState[],
  timeoutMs = 60_000,
): Promise<SessionState> {
  return waitFor(
    `session #${session.id} to reach ${states.join('/')} (now ${session.state})`,
    () => (states.includes(session.state) ? session.state : undefined),
    timeoutMs,
  );
}

/** Runs a command that starts a session and returns that session. */
export async function startSession(
  a: TestHooks,
  command: string,
  ...args: unknown[]
): Promise<PreviewSession> {
  const before = a.controller.current;
  await vscode.commands.executeCommand(command, ...args);
  const s = a.controller.current;
  assert.ok(s && s !== before, `${command} did not start a session`);
  return s;
}

/** The outcome line logged for request `id` (accepted / rejected / cancelled / no model / error / refused). */
export function outcomeLine(a: TestHooks, id: number): string | undefined {
  const re = new RegExp(`^request #${id} (accepted|rejected|cancelled|no model|error|refused)\\b`);
  return a.log.entries.find((e) => re.test(e.message))?.message;
}

/** A recorded engine snapshot (tests that replace `engine.infill` to pin the model's side). */
export function recordedSnapshot(step: number, text: string, masksLeft: number): Snapshot {
  return { requestId: 0, step, maxSteps: 4, text, masksLeft, canvasLength: 12, nfe: step, elapsedMs: step };
}

/** A recorded engine result with `completion` as its only candidate. */
export function recordedResult(completion: string): InfillResult {
  return {
    requestId: 0,
    completion,
    nfe: 3,
    nfeRows: 3,
    confidence: 0.9,
    unsure: false,
    candidates: [{ completion, confidence: 0.9, unsure: false, canvasLength: 12, tokens: 8 }],
    lengths: [{ tokens: 12, score: -0.1 }],
    steps: 3,
    canvasLength: 12,
    tokens: 8,
    firstFrameMs: 1,
    ms: 3,
    notes: [],
  };
}
