// User-facing messages and the prompt input box, behind one small seam: every message is recorded
// (the in-host tests assert that a failure was shown, not silent) and the input box can be answered
// by a test through the extension's API instead of a person.
import * as vscode from 'vscode';

export interface ShownMessage {
  severity: 'info' | 'warning' | 'error';
  message: string;
}

export class Ui {
  readonly messages: ShownMessage[] = [];
  private inputAnswers: (string | undefined)[] = [];

  /** Shows a message without waiting for it; `actions` run when their button is picked. */
  error(message: string, actions: Record<string, () => void> = {}): void {
    this.show('error', message, actions);
  }

  warn(message: string, actions: Record<string, () => void> = {}): void {
    this.show('warning', message, actions);
  }

  info(message: string, actions: Record<string, () => void> = {}): void {
    this.show('info', message, actions);
  }

  async inputBox(options: vscode.InputBoxOptions): Promise<string | undefined> {
    if (this.inputAnswers.length > 0) {
      return this.inputAnswers.shift();
    }
    return vscode.window.showInputBox(options);
  }

  /** Test hook: the next input box returns `answer` (undefined = the user pressed Escape). */
  answerNextInputBox(answer: string | undefined): void {
    this.inputAnswers.push(answer);
  }

  private show(
    severity: ShownMessage['severity'],
    message: string,
    actions: Record<string, () => void>,
  ): void {
    this.messages.push({ severity, message });
    if (this.messages.length > 200) {
      this.messages.splice(0, this.messages.length - 200);
    }
    const text = `Diffusion Infill: ${message}`;
    const buttons = Object.keys(actions);
    const shown =
      severity === 'error'
        ? vscode.window.showErrorMessage(text, ...buttons)
        : severity === 'warning'
          ? vscode.window.showWarningMessage(text, ...buttons)
          : vscode.window.showInformationMessage(text, ...buttons);
    shown.then(
      (picked) => {
        if (picked !== undefined) {
          actions[picked]?.();
        }
      },
      () => undefined,
    );
  }
}
