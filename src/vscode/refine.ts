// Refine Selection: the engine scores every token of the selection (G passes), re-masks the doubtful
// ones and denoises them; the result is previewed as a word diff of the region (removed text struck
// through, added text shown inline after it) until Tab (one edit, one undo step) or Esc. Nothing
// here edits the document except accept(). When the model doubts nothing, the user is told so and
// nothing is shown. Editing the document, switching editors or starting an infill cancels.
import * as vscode from 'vscode';
import { isAbortError } from '../engine/errors';
import type { RefineResult, Snapshot } from '../engine/protocol';
import { describeError, type InfillController } from './controller';
import type { EngineService } from './engineService';
import type { Log } from './log';
import { checkDocument, RefusedError } from './documentRequest';
import { allocateRequestId } from './preview';
import { regionContext } from './regionContext';
import { SECTION, type Settings } from './settings';
import type { StatusBar } from './statusBar';
import { wordDiff, type DiffOp } from './textDiff';
import type { Ui } from './ui';

export const REFINE_CONTEXT_KEY = 'diffusionInfill.refineActive';

export type RefineState =
  'running' | 'ready' | 'unchanged' | 'accepted' | 'rejected' | 'cancelled' | 'failed';

export interface RefineSettings {
  threshold: number;
  maxFraction: number;
  groups: number;
}

export function readRefineSettings(): RefineSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    threshold: c.get<number>('refine.threshold', 0.05),
    maxFraction: c.get<number>('refine.maxFraction', 0.5),
    groups: Math.max(1, Math.floor(c.get<number>('score.groups', 4))),
  };
}

export class RefineSession {
  readonly id = allocateRequestId();
  readonly uri: string;
  readonly version: number;
  readonly abort = new AbortController();
  readonly snapshots: Snapshot[] = [];
  state: RefineState = 'running';
  result?: RefineResult;
  diff: DiffOp[] = [];
  reason?: string;
  readonly description: string;

  constructor(
    readonly editor: vscode.TextEditor,
    readonly range: vscode.Range,
  ) {
    this.uri = editor.document.uri.toString();
    this.version = editor.document.version;
    const r = range;
    this.description = `refine ${vscode.workspace.asRelativePath(editor.document.uri)} ${r.start.line + 1}:${r.start.character + 1}-${r.end.line + 1}:${r.end.character + 1}`;
  }

  get active(): boolean {
    return this.state === 'running' || this.state === 'ready';
  }
}

export class RefineController implements vscode.Disposable {
  private session?: RefineSession;
  private readonly changed = new vscode.EventEmitter<RefineSession>();
  readonly onDidChangeSession = this.changed.event;
  private readonly removedDecoration = vscode.window.createTextEditorDecorationType({
    textDecoration: 'line-through',
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly addedDecoration = vscode.window.createTextEditorDecorationType({
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly pendingDecoration = vscode.window.createTextEditorDecorationType({
    opacity: '0.6',
    border: '1px dashed',
    borderColor: new vscode.ThemeColor('editorWarning.foreground'),
  });
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly engine: EngineService,
    private readonly controller: InfillController,
    private readonly status: StatusBar,
    private readonly log: Log,
    private readonly ui: Ui,
    private readonly settings: () => Settings,
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (
          this.session?.active &&
          e.document.uri.toString() === this.session.uri &&
          e.contentChanges.length
        ) {
          this.cancel('the document was edited');
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.session?.active && editor?.document.uri.toString() !== this.session.uri) {
          this.cancel('switched to another editor');
        }
      }),
      controller.onDidChangeSession((s) => {
        if (s.active && this.session?.active) {
          this.cancel('an infill started');
        }
      }),
    );
  }

  get current(): RefineSession | undefined {
    return this.session;
  }

  /** Refine Selection on the active editor's selection. */
  start(editor: vscode.TextEditor): RefineSession | undefined {
    const range = new vscode.Range(editor.selection.start, editor.selection.end);
    if (range.isEmpty) {
      this.refuse('Refine Selection needs a selection: select the code to refine.');
      return undefined;
    }
    if (this.controller.current?.active) {
      this.refuse('an infill preview is active: accept or reject it first.');
      return undefined;
    }
    try {
      checkDocument(editor.document); // binary or huge documents are refused, as for infill
    } catch (err) {
      if (err instanceof RefusedError) {
        this.refuse(err.message);
        return undefined;
      }
      throw err;
    }
    if (this.session?.active) {
      this.cancel('superseded by a new request');
    }
    const s = new RefineSession(editor, range);
    this.session = s;
    const settings = this.settings();
    const refine = readRefineSettings();
    const context = regionContext(editor.document, range);
    editor.setDecorations(this.pendingDecoration, [range]);
    this.log.info(
      `request #${s.id} ${s.description} (threshold ${refine.threshold}, ${refine.groups} groups)`,
    );
    void this.engine
      .refine(
        {
          prefix: context.prefix,
          text: context.text,
          suffix: context.suffix,
          languageId: editor.document.languageId,
          groups: refine.groups,
          threshold: refine.threshold,
          maxFraction: refine.maxFraction,
          prefixBudget: settings.prefixTokens,
          suffixBudget: settings.suffixTokens,
          sampler: settings.sampler,
          snapshotIntervalMs: settings.snapshotIntervalMs,
          placeholder: settings.placeholder,
        },
        (snapshot) => this.onSnapshot(s, snapshot),
        s.abort.signal,
      )
      .then(
        (result) => this.onResult(s, result),
        (err: unknown) => this.onError(s, err),
      );
    this.changed.fire(s);
    return s;
  }

  private onSnapshot(s: RefineSession, snapshot: Snapshot): void {
    if (s !== this.session || s.state !== 'running') {
      return;
    }
    s.snapshots.push(snapshot);
    this.status.showStep(snapshot);
    this.changed.fire(s);
  }

  private onResult(s: RefineSession, result: RefineResult): void {
    if (s !== this.session || s.state !== 'running') {
      return;
    }
    s.result = result;
    const editor = s.editor;
    editor.setDecorations(this.pendingDecoration, []);
    const scored = result.scores.tokens.length;
    const lowest = Math.min(...result.scores.tokens.map((t) => t.prob));
    const cost = `${scored} tokens scored in ${result.scorePasses} passes, ${result.denoisePasses} denoising passes, ${result.ms} ms`;
    if (!result.changed) {
      s.state = 'unchanged';
      const what =
        result.doubtful.length === 0
          ? `the model found nothing doubtful in the selection (lowest token probability ${formatProb(lowest)}, threshold ${readRefineSettings().threshold})`
          : `the model re-predicted ${result.remasked.length} doubtful tokens and kept them as written`;
      this.log.outcome(s.id, 'unchanged', `${what}; ${cost}`);
      this.ui.info(`${what}. Nothing to change.`);
      this.status.set({ kind: 'idle' });
      this.changed.fire(s);
      return;
    }
    s.diff = wordDiff(s.range.isEmpty ? '' : editor.document.getText(s.range), result.text);
    s.state = 'ready';
    this.showDiff(s);
    void vscode.commands.executeCommand('setContext', REFINE_CONTEXT_KEY, true);
    this.log.info(
      `request #${s.id} ready: ${result.remasked.length} tokens re-masked (${result.doubtful.length} below the threshold${result.expansions.length ? `; ${result.expansions.join('; ')}` : ''}); ${cost}`,
    );
    this.status.set({ kind: 'done', steps: result.denoisePasses, nfe: result.passes, ms: result.ms });
    this.changed.fire(s);
  }

  private onError(s: RefineSession, err: unknown): void {
    if (s !== this.session) {
      return;
    }
    s.editor.setDecorations(this.pendingDecoration, []);
    if (isAbortError(err)) {
      if (s.state === 'running') {
        this.end(s, 'cancelled', 'aborted');
      }
      return;
    }
    const code = (err as { code?: import('../engine/protocol').ErrorCode }).code;
    const message = err instanceof Error ? err.message : String(err);
    const { text } = describeError(code, message, this.settings().modelFolder, false);
    s.state = 'failed';
    s.reason = text;
    this.log.outcome(s.id, 'error', `${code ?? 'error'}: ${message}`);
    this.status.set({ kind: 'error', message: text });
    this.ui.error(text, { 'Show Log': () => this.log.show() });
    this.clearDecorations(s);
    this.changed.fire(s);
  }

  /** Removed runs struck through in place; added runs shown inline right after them (single line). */
  private showDiff(s: RefineSession): void {
    const document = s.editor.document;
    const base = document.offsetAt(s.range.start);
    const at = (offset: number) => document.positionAt(base + offset);
    const removed: vscode.Range[] = [];
    const added: vscode.DecorationOptions[] = [];
    for (const op of s.diff) {
      if (op.kind === 'removed') {
        removed.push(new vscode.Range(at(op.oldStart), at(op.oldEnd)));
      } else if (op.kind === 'added') {
        const p = at(op.oldStart);
        added.push({
          range: new vscode.Range(p, p),
          renderOptions: {
            before: {
              contentText: op.text.replace(/\n/g, '⏎').replace(/ /g, '\u00a0'),
              backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
              border: '1px solid',
              borderColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'),
            },
          },
          hoverMessage: new vscode.MarkdownString()
            .appendText('Refine Selection adds: ')
            .appendCodeblock(op.text),
        });
      }
    }
    s.editor.setDecorations(this.removedDecoration, removed);
    s.editor.setDecorations(this.addedDecoration, added);
  }

  /** Tab: replace the region with the refined text in one edit. */
  async accept(): Promise<boolean> {
    const s = this.session;
    if (!s || s.state !== 'ready' || !s.result) {
      return false;
    }
    const document = s.editor.document;
    if (document.isClosed || document.version !== s.version) {
      this.end(s, 'cancelled', 'the document changed before accept');
      return false;
    }
    const text = s.result.text;
    s.state = 'accepted';
    this.clearDecorations(s);
    const applied = await s.editor.edit((b) => b.replace(s.range, text), {
      undoStopBefore: true,
      undoStopAfter: true,
    });
    if (!applied) {
      s.state = 'failed';
      this.log.outcome(s.id, 'error', 'the editor refused the edit');
      this.ui.error('could not apply the refinement (the editor refused the edit).');
      this.changed.fire(s);
      return false;
    }
    const end = document.positionAt(document.offsetAt(s.range.start) + text.length);
    s.editor.selection = new vscode.Selection(end, end);
    this.log.outcome(
      s.id,
      'accepted',
      `${s.result.remasked.length} tokens re-predicted, ${s.result.passes} passes`,
    );
    this.status.set({ kind: 'idle' });
    this.changed.fire(s);
    return true;
  }

  /** Esc. */
  reject(): boolean {
    const s = this.session;
    if (!s?.active) {
      return false;
    }
    this.end(s, 'rejected', s.result ? '' : 'before the result');
    return true;
  }

  cancel(reason: string): boolean {
    const s = this.session;
    if (!s?.active) {
      return false;
    }
    this.end(s, 'cancelled', reason);
    return true;
  }

  private end(s: RefineSession, state: 'rejected' | 'cancelled', detail: string): void {
    s.state = state;
    s.reason = detail;
    s.abort.abort();
    this.clearDecorations(s);
    this.log.outcome(s.id, state, detail);
    this.status.set({ kind: 'idle' });
    this.changed.fire(s);
  }

  private clearDecorations(s: RefineSession): void {
    s.editor.setDecorations(this.removedDecoration, []);
    s.editor.setDecorations(this.addedDecoration, []);
    s.editor.setDecorations(this.pendingDecoration, []);
    void vscode.commands.executeCommand('setContext', REFINE_CONTEXT_KEY, false);
  }

  private refuse(message: string): void {
    this.log.outcome(allocateRequestId(), 'refused', message);
    this.ui.error(message);
  }

  dispose(): void {
    this.cancel('the extension is shutting down');
    this.subscriptions.forEach((d) => d.dispose());
    this.changed.dispose();
    this.removedDecoration.dispose();
    this.addedDecoration.dispose();
    this.pendingDecoration.dispose();
  }
}

export function formatProb(p: number): string {
  return p >= 0.01 ? `${(p * 100).toFixed(1)}%` : `${(p * 100).toFixed(2)}%`;
}
