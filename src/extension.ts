// Extension entry: wiring only. Settings -> engine (child process) -> controller (sessions) ->
// renderer / decorations / status bar, commands on top. activate() returns an API object whose
// members the in-host tests use (no vscode mocking).
import * as vscode from 'vscode';
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
import { readSettings, SECTION, type Settings } from './vscode/settings';
import { StatusBar } from './vscode/statusBar';
import { Ui } from './vscode/ui';
import { Visualiser } from './vscode/visualiser';

export interface DiffusionInfillApi {
  readonly controller: InfillController;
  readonly engine: EngineService;
  readonly statusBar: StatusBar;
  readonly log: Log;
  readonly ui: Ui;
  readonly renderer: GhostTextRenderer;
  readonly refine: RefineController;
  readonly lens: ConfidenceLens;
  readonly visualiser: Visualiser;
  settings(): Settings;
}

export function activate(context: vscode.ExtensionContext): DiffusionInfillApi | undefined {
  if (!guardPlatform(context, vscode)) return undefined; // no ONNX Runtime binary here: say so, no crash
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
  const refine = new RefineController(engine, controller, statusBar, log, ui, getSettings);
  const lens = new ConfidenceLens(engine, controller, refine, log, ui, getSettings);
  const visualiser = new Visualiser(context.extensionUri, engine, controller, refine);

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
    settings: getSettings,
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions (the engine process included).
}
