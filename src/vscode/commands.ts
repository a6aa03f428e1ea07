// The commands: each turns the editor's state into a session spec (command -> request) and hands it
// to the controller, or runs a model/device/log action. Every path ends in a log line, and every
// failure a user could trigger ends in a message.
import * as path from 'path';
import * as vscode from 'vscode';
import { describeReport } from '../engine/deviceReportText';
import type { InfillController } from './controller';
import type { EngineService } from './engineService';
import type { Log } from './log';
import { allocateRequestId, type PreviewSession, type SessionSpec } from './preview';
import { buildInfillRequest, buildPromptRequest, checkDocument, RefusedError } from './documentRequest';
import { describeFolder, modelFolderTarget, SECTION, type Settings } from './settings';
import type { StatusBar } from './statusBar';
import type { Ui } from './ui';

/** Selections longer than this many characters per token of the model's window are refused up front. */
const MAX_CHARS_PER_CONTEXT_TOKEN = 8;

export interface CommandDeps {
  controller: InfillController;
  engine: EngineService;
  log: Log;
  ui: Ui;
  status: StatusBar;
  settings: () => Settings;
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('diffusionInfill.infillSelection', () => infillSelection(d)),
    vscode.commands.registerCommand('diffusionInfill.generateFromPrompt', (prompt?: string) =>
      generateFromPrompt(d, prompt),
    ),
    vscode.commands.registerCommand('diffusionInfill.accept', () => d.controller.accept()),
    vscode.commands.registerCommand('diffusionInfill.reject', () => d.controller.reject()),
    vscode.commands.registerCommand('diffusionInfill.selectModel', (folder?: string | vscode.Uri) =>
      selectModel(d, folder),
    ),
    vscode.commands.registerCommand('diffusionInfill.diagnoseDevice', () => diagnoseDevice(d)),
    vscode.commands.registerCommand('diffusionInfill.showLog', () => d.log.show()),
  ];
}

/** Infill Selection: replace the selection, or insert at the cursor (default length) when it is empty. */
export function infillSelection(d: CommandDeps): PreviewSession | undefined {
  const editor = usableEditor(d, 'Infill Selection');
  if (!editor) {
    return undefined;
  }
  const settings = d.settings();
  const selection = editor.selection;
  const range = new vscode.Range(selection.start, selection.end);
  const maxLength = d.engine.model?.maxLength;
  const chars = editor.document.getText(range).length;
  if (maxLength && chars > maxLength * MAX_CHARS_PER_CONTEXT_TOKEN) {
    refuse(
      d,
      `the selection (${chars} characters) is far longer than the model's context window (${maxLength} tokens). Select a smaller region.`,
    );
    return undefined;
  }
  if (editor.selections.length > 1) {
    d.log.info('several selections: infilling the primary one only');
  }
  const spec: SessionSpec = {
    kind: range.isEmpty ? 'cursor' : 'selection',
    editor,
    range,
    request: buildInfillRequest(editor.document, range, settings),
    description: describe(editor, range),
  };
  return d.controller.start(spec);
}

/** Generate from Prompt: ask for a description, then generate at the cursor. */
export async function generateFromPrompt(
  d: CommandDeps,
  promptArg?: string,
): Promise<PreviewSession | undefined> {
  if (!usableEditor(d, 'Generate from Prompt')) {
    return undefined;
  }
  const prompt =
    typeof promptArg === 'string'
      ? promptArg
      : await d.ui.inputBox({
          title: 'Diffusion Infill: Generate from Prompt',
          prompt:
            'Describe the code to generate at the cursor (given to the model as a comment, not added to the file)',
          placeHolder: 'e.g. return the n-th prime number',
          ignoreFocusOut: true,
        });
  if (prompt === undefined || prompt.trim().length === 0) {
    d.log.outcome(allocateRequestId(), 'cancelled', 'no prompt given');
    return undefined;
  }
  // The input box took the focus; the editor is back now (or the user moved on).
  const editor = usableEditor(d, 'Generate from Prompt');
  if (!editor) {
    return undefined;
  }
  const position = editor.selection.active;
  const range = new vscode.Range(position, position);
  const spec: SessionSpec = {
    kind: 'prompt',
    editor,
    range,
    request: buildPromptRequest(editor.document, position, prompt, d.settings()),
    description: `${describe(editor, range)}, prompt ${JSON.stringify(prompt)}`,
  };
  return d.controller.start(spec);
}

export async function selectModel(d: CommandDeps, folderArg?: string | vscode.Uri): Promise<boolean> {
  let folder: string | undefined;
  if (typeof folderArg === 'string') {
    folder = folderArg;
  } else if (folderArg instanceof vscode.Uri) {
    folder = folderArg.fsPath;
  } else {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Use this model',
      title: 'Diffusion Infill: select a model folder (model.json + tokenizer.json + .onnx)',
    });
    folder = picked?.[0]?.fsPath;
  }
  if (!folder) {
    d.log.info('Select Model: no folder picked');
    return false;
  }
  d.log.info(`Select Model: validating ${folder}`);
  try {
    const info = await d.engine.load(folder);
    // Written where the effective value lives (workspace folder / workspace / user): a user value
    // written under a workspace one would be shadowed and the selected model never used.
    const { target, scope } = modelFolderTarget();
    await vscode.workspace.getConfiguration(SECTION, scope).update('model.folder', folder, target);
    d.log.info(
      `Select Model: ${info.name} from ${folder} loaded on ${info.executionProvider} in ${info.loadMs} ms`,
    );
    d.status.set({ kind: 'idle', detail: `model ${info.name}` });
    d.ui.info(`model "${info.name}" loaded from ${folder} (${info.executionProvider}).`);
    return true;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    d.log.error(`Select Model: ${folder} rejected: ${message}`);
    d.engine.configure(d.settings()); // back to the configured model for the next request
    d.status.set({ kind: 'error', message: `not a usable model: ${folder}` });
    d.ui.error(`${folder} is not a usable model folder: ${message}`, { 'Show Log': () => d.log.show() });
    return false;
  }
}

export async function diagnoseDevice(d: CommandDeps): Promise<string> {
  try {
    if (!d.engine.model) {
      // The timings need the model: load the configured one now (a broken folder is reported, not fatal).
      await d.engine.load().catch((err: unknown) => {
        d.log.warn(
          `Diagnose Device: the model did not load: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    }
    const diagnosis = await d.engine.diagnose();
    const lines = [
      `available execution providers: ${diagnosis.providers.join(', ') || '(none reported)'}`,
      `in use: ${diagnosis.inUse ?? 'none yet (the model loads on the first infill)'}`,
    ];
    if (diagnosis.fallbackReason) {
      lines.push(`fallback: ${diagnosis.fallbackReason}`);
    }
    lines.push(`requested: ${d.settings().executionProvider}`);
    if (diagnosis.report) {
      lines.push(...describeReport(diagnosis.report));
    }
    // Which model, and which setting chose it (or the bundled default), plus values that cannot apply.
    lines.push(`model folder: ${describeFolder(d.settings())}`);
    for (const warning of d.settings().modelFolderWarnings) {
      lines.push(`warning: ${warning}`);
    }
    for (const line of lines) {
      d.log.info(`Diagnose Device: ${line}`);
    }
    const summary = lines.join('; ');
    d.ui.info(summary, { 'Show Log': () => d.log.show() });
    return summary;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    d.log.error(`Diagnose Device failed: ${message}`);
    d.ui.error(`could not query the engine: ${message}`, { 'Show Log': () => d.log.show() });
    return `error: ${message}`;
  }
}

function usableEditor(d: CommandDeps, what: string): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    refuse(d, `${what} needs an open text editor.`);
    return undefined;
  }
  try {
    checkDocument(editor.document);
  } catch (err) {
    if (err instanceof RefusedError) {
      refuse(d, err.message);
      return undefined;
    }
    throw err;
  }
  return editor;
}

function refuse(d: CommandDeps, message: string): void {
  d.log.outcome(allocateRequestId(), 'refused', message);
  d.ui.error(message);
}

function describe(editor: vscode.TextEditor, range: vscode.Range): string {
  const file = path.basename(editor.document.uri.path) || editor.document.uri.toString();
  const where = range.isEmpty
    ? `${range.start.line + 1}:${range.start.character + 1}`
    : `${range.start.line + 1}:${range.start.character + 1}-${range.end.line + 1}:${range.end.character + 1}`;
  return `${file} ${where} (${editor.document.languageId}, ${editor.document.getText(range).length} chars)`;
}
