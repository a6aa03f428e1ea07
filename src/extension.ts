// Extension entry: wiring only. Settings -> engine (child process) -> controller (sessions) ->
// renderer / decorations / status bar, commands on top. The lifecycle lives here: activate builds
// everything, deactivate stops the engine process and waits for it to exit.
//
// activate() returns nothing to users: no other extension can depend on our internals. The in-host
// tests need them (no vscode mocking), so the object below is returned only when the test runner
// starts the extension host with DI_TEST_HOOKS=1 in its environment (test/runners/inHost.ts passes
// it through the workbench's extensionEnvironment); a user's extension host never has it.
import * as path from 'path';
import * as vscode from 'vscode';
import { registerCandidateCommands } from './vscode/candidateCommands';
import { registerCommands, selectModel } from './vscode/commands';
import { registerConvertCommand } from './vscode/convert';
import { InfillController } from './vscode/controller';
import { RegionDecoration } from './vscode/decorations';
import { EngineService } from './vscode/engineService';
import { registerFeatureCommands } from './vscode/featureCommands';
import { GhostTextRenderer } from './vscode/ghostText';
import { ConfidenceLens } from './vscode/lens';
import { Log } from './vscode/log';
import { guardPlatform } from './vscode/platform';
import { RefineController } from './vscode/refine';
import {
  describeFolder,
  readSettings,
  SECTION,
  type Settings,
  type SettingsContext,
} from './vscode/settings';
import { StatusBar } from './vscode/statusBar';
import { Ui } from './vscode/ui';
import { Visualiser } from './vscode/visualiser';

/** The handles the in-host tests use; returned by activate() only under DI_TEST_HOOKS=1. */
export interface TestHooks {
  readonly controller: InfillController;
  readonly engine: EngineService;
  readonly statusBar: StatusBar;
  readonly log: Log;
  readonly ui: Ui;
  readonly renderer: GhostTextRenderer;
  readonly refine: RefineController;
  readonly lens: ConfidenceLens;
  readonly visualiser: Visualiser;
  /** The User settings.json checked for values a remote window ignores. */
  readonly userSettingsFile?: string;
  settings(): Settings;
  /** The module's deactivate(), as VS Code calls it (test/suite/deactivate.test.ts runs it last). */
  deactivate(): Promise<void>;
}

export const TEST_HOOKS_ENV = 'DI_TEST_HOOKS';

/** The engine of the active extension, for deactivate(). */
let activeEngine: EngineService | undefined;

export function activate(context: vscode.ExtensionContext): TestHooks | undefined {
  if (!guardPlatform(context, vscode)) return undefined; // no ONNX Runtime binary here: say so, no crash
  const settingsContext: SettingsContext = {
    extensionPath: context.extensionPath,
    // globalStorage is <user data>/User/globalStorage/<id>: the User settings.json sits two levels up.
    userSettingsFile: path.join(context.globalStorageUri.fsPath, '..', '..', 'settings.json'),
  };
  let settings = readSettings(settingsContext);
  const log = new Log();
  const ui = new Ui();
  const statusBar = new StatusBar();
  const engine = new EngineService(
    context.asAbsolutePath('dist/engineProcess.js'),
    settings,
    log,
    statusBar,
    ui,
  );
  activeEngine = engine;
  const renderer = new GhostTextRenderer(context.extension.id);
  const decoration = new RegionDecoration();
  const getSettings = () => settings;
  const controller = new InfillController(engine, renderer, decoration, statusBar, log, ui, getSettings);
  const refine = new RefineController(engine, controller, statusBar, log, ui, getSettings);
  const lens = new ConfidenceLens(engine, controller, refine, log, ui, getSettings);
  const visualiser = new Visualiser(context.extensionUri, engine, controller, refine);
  const reread = (why: string) => {
    const next = readSettings(settingsContext);
    const folderChanged = describeFolder(next) !== describeFolder(settings);
    settings = next;
    engine.configure(settings);
    if (folderChanged || why === 'settings changed') {
      log.info(`${why}: model folder ${describeFolder(settings)}`);
    }
  };

  context.subscriptions.push(
    log,
    statusBar,
    engine,
    renderer,
    decoration,
    controller,
    ...registerCommands({ controller, engine, log, ui, status: statusBar, settings: getSettings }),
    refine,
    lens,
    visualiser,
    ...registerFeatureCommands({ visualiser, refine, lens }),
    registerConvertCommand({
      log,
      ui,
      exporterRoot: context.extensionPath,
      useModel: (folder) =>
        selectModel({ controller, engine, log, ui, status: statusBar, settings: getSettings }, folder),
    }),
    ...registerCandidateCommands(controller),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) {
        reread('settings changed');
      }
    }),
    // A workspace-folder value of the model folder applies to that folder's documents.
    vscode.window.onDidChangeActiveTextEditor(() => reread('active workspace folder changed')),
  );
  log.info(`activated (VS Code ${vscode.version}); model folder ${describeFolder(settings)}`);
  if (process.env[TEST_HOOKS_ENV] === '1') {
    return {
      controller,
      engine,
      statusBar,
      log,
      ui,
      renderer,
      refine,
      lens,
      visualiser,
      userSettingsFile: settingsContext.userSettingsFile,
      settings: getSettings,
      deactivate,
    };
  }
  return undefined;
}

/** VS Code awaits this: the engine process is stopped and has exited when it resolves. */
export async function deactivate(): Promise<void> {
  const e = activeEngine;
  activeEngine = undefined;
  await e?.stop();
}
