// Alt+] / Alt+[ while a preview is shown: the next / previous candidate completion (candidates.ts).
import * as vscode from 'vscode';
import type { InfillController } from './controller';

export function registerCandidateCommands(controller: InfillController): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('diffusionInfill.nextCandidate', () => controller.cycle(1)),
    vscode.commands.registerCommand('diffusionInfill.previousCandidate', () => controller.cycle(-1)),
  ];
}
