// Marks the region an infill will replace: dimmed and struck through. An empty region (infill at the
// cursor) gets no decoration: the ghost text itself shows where the text goes.
import * as vscode from 'vscode';

export class RegionDecoration implements vscode.Disposable {
  private readonly replaced = vscode.window.createTextEditorDecorationType({
    opacity: '0.45',
    textDecoration: 'line-through',
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private editor?: vscode.TextEditor;

  show(editor: vscode.TextEditor, range: vscode.Range): void {
    this.clear();
    this.editor = editor;
    if (!range.isEmpty) {
      editor.setDecorations(this.replaced, [range]);
    }
  }

  clear(): void {
    if (this.editor) {
      this.editor.setDecorations(this.replaced, []);
      this.editor = undefined;
    }
  }

  dispose(): void {
    this.clear();
    this.replaced.dispose();
  }
}
