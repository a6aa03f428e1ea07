// Extension entry: wiring only. Settings -> engine (child process) -> controller (sessions) ->
// renderer / decorations / status bar, commands on top. activate() returns an API object whose
// members the in-host tests use (no vscode mocking).
import * as vscode from 'vscode';
import { registerCandidateCommands } from './vscode/candidateCommands';
import { registerCommands } from './vscode/commands';
import { InfillController } from './vscode/controller';
import { RegionDecoration } from './vscode/decorations';
import { EngineService } from './vscode/engineService';
import { GhostTextRenderer } from './vscode/ghostText';
import { Log } from './vscode/log';
import { readSettings, SECTION, type Settings } from './vscode/settings';
import { StatusBar } from './vscode/statusBar';
import { Ui } from './vscode/ui';

export interface DiffusionInfillApi {
  readonly controller: InfillController;
  readonly engine: EngineService;
  readonly statusBar: StatusBar;
  readonly log: Log;
  readonly ui: Ui;
  readonly renderer: GhostTextRenderer;
  settings(): Settings;
}

export function activate(context: vscode.ExtensionContext): DiffusionInfillApi {
  let settings = readSettings(context.extensionPath);
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
  const renderer = new GhostTextRenderer(context.extension.id);
  const decoration = new RegionDecoration();
  const getSettings = () => settings;
  const controller = new InfillController(engine, renderer, decoration, statusBar, log, ui, getSettings);

  context.subscriptions.push(
    log,
    statusBar,
    engine,
    renderer,
    decoration,
    controller,
    ...registerCommands({ controller, engine, log, ui, status: statusBar, settings: getSettings }),
    ...registerCandidateCommands(controller),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) {
        settings = readSettings(context.extensionPath);
        engine.configure(settings);
        log.info(`settings changed: model folder ${settings.modelFolder}`);
      }
    }),
  );
  log.info(
    `activated (VS Code ${vscode.version}); model folder ${settings.modelFolder}${settings.modelFolderFromSetting ? '' : ' (bundled)'}`,
  );
  return { controller, engine, statusBar, log, ui, renderer, settings: getSettings };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions (the engine process included).
}
