// Ghost text renderer. VS Code's inline completions are the only stable way to show multi-line
// preview text, but they have no "provider changed" event and re-running the trigger with the same
// cursor/version is skipped. What refreshes reliably (../shared/docs/vscode.md, the design notes
// beside the repository): dispose the provider registration, register it again, then trigger with
// {explicit: false, providerId}. One frame = one
// insertion at a fixed position; the provider answers only for that document, version and position.
import * as vscode from 'vscode';

export interface Frame {
  uri: string;
  version: number;
  position: vscode.Position;
  text: string;
}

export class GhostTextRenderer implements vscode.Disposable {
  private registration?: vscode.Disposable;
  private frame?: Frame;
  /** Texts handed to VS Code by the provider, in order (for tests). */
  readonly provided: string[] = [];
  /** Texts passed to show(), in order (for tests). */
  readonly shown: string[] = [];

  constructor(private readonly providerId: string) {}

  get current(): Frame | undefined {
    return this.frame;
  }

  /** Shows `text` as ghost text at `position` (the editor's cursor must be there). */
  async show(editor: vscode.TextEditor, position: vscode.Position, text: string): Promise<void> {
    this.frame = {
      uri: editor.document.uri.toString(),
      version: editor.document.version,
      position,
      text,
    };
    this.shown.push(text);
    this.trim(this.shown);
    this.register();
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger', {
      explicit: false,
      providerId: `${this.providerId}:*`,
    });
  }

  /** Removes the ghost text; the provider answers nothing from now on. */
  async clear(): Promise<void> {
    const had = this.frame !== undefined;
    this.frame = undefined;
    this.registration?.dispose();
    this.registration = undefined;
    if (had) {
      await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
    }
  }

  private register(): void {
    this.registration?.dispose();
    this.registration = vscode.languages.registerInlineCompletionItemProvider(
      { scheme: '*', language: '*' },
      { provideInlineCompletionItems: (document, position) => this.provide(document, position) },
    );
  }

  private provide(document: vscode.TextDocument, position: vscode.Position): vscode.InlineCompletionItem[] {
    const f = this.frame;
    if (
      !f ||
      f.uri !== document.uri.toString() ||
      f.version !== document.version ||
      !f.position.isEqual(position) ||
      f.text.length === 0
    ) {
      return [];
    }
    this.provided.push(f.text);
    this.trim(this.provided);
    return [new vscode.InlineCompletionItem(f.text, new vscode.Range(position, position))];
  }

  private trim(list: string[]): void {
    // Bounded (a few MB at most), but long enough that a whole in-host suite run never drops frames a
    // test slices by index.
    if (list.length > 20000) {
      list.splice(0, list.length - 20000);
    }
  }

  dispose(): void {
    this.frame = undefined;
    this.registration?.dispose();
    this.registration = undefined;
  }
}
