// Commands of the three model-introspection features (denoising visualiser, Refine Selection,
// confidence lens). Kept apart from commands.ts so the infill commands stay as they are.
import * as vscode from 'vscode';
import type { ConfidenceLens } from './lens';
import type { RefineController } from './refine';
import type { Visualiser } from './visualiser';

export function registerFeatureCommands(d: {
  visualiser: Visualiser;
  refine: RefineController;
  lens: ConfidenceLens;
}): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('diffusionInfill.showVisualiser', () => d.visualiser.open()),
    vscode.commands.registerCommand('diffusionInfill.refineSelection', () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        void vscode.window.showErrorMessage('Diffusion Infill: Refine Selection needs an open text editor.');
        return undefined;
      }
      return d.refine.start(editor);
    }),
    vscode.commands.registerCommand('diffusionInfill.acceptRefinement', () => d.refine.accept()),
    vscode.commands.registerCommand('diffusionInfill.rejectRefinement', () => d.refine.reject()),
    vscode.commands.registerCommand('diffusionInfill.confidenceLens', () => d.lens.show('command')),
    vscode.commands.registerCommand('diffusionInfill.clearConfidenceLens', () => d.lens.clear()),
  ];
}
