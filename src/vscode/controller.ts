// The infill flow, top to bottom: a session starts (region decorated, cursor parked at the region's
// end) -> the request goes to the engine -> each snapshot updates the status bar and, throttled to a
// readable rate, the ghost text -> the result waits for Tab (accept: one edit) or Esc (reject).
// Typing in the document, moving the cursor, switching editors or a new request cancels. Nothing
// here edits the document except accept().
import * as vscode from 'vscode';
import { isAbortError } from '../engine/errors';
import type { ErrorCode, InfillResult, Snapshot } from '../engine/protocol';
import type { RegionDecoration } from './decorations';
import type { EngineService } from './engineService';
import type { GhostTextRenderer } from './ghostText';
import type { Log, Outcome } from './log';
import { CandidateList } from './candidates';
import { PreviewSession, type SessionSpec } from './preview';
import type { Settings } from './settings';
import type { StatusBar } from './statusBar';
import type { Ui } from './ui';

export const CONTEXT_KEY = 'diffusionInfill.previewActive';

export class InfillController implements vscode.Disposable {
  private session?: PreviewSession;
  /** Recent sessions, oldest first (for the tests and the log). */
  readonly sessions: PreviewSession[] = [];
  private readonly changed = new vscode.EventEmitter<PreviewSession>();
  /** Fires on every session state change and snapshot. */
  readonly onDidChangeSession = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  private pendingFrame?: { session: PreviewSession; text: string };
  private frameTimer?: NodeJS.Timeout;
  private frameBusy = false;
  private lastFrameAt = 0;
  /** The finished session's candidates (Alt+] / Alt+[, what Tab does). */
  private shown?: { session: PreviewSession; list: CandidateList };

  constructor(
    private readonly engine: EngineService,
    private readonly renderer: GhostTextRenderer,
    private readonly decoration: RegionDecoration,
    private readonly status: StatusBar,
    private readonly log: Log,
    private readonly ui: Ui,
    private readonly settings: () => Settings,
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        const s = this.session;
        if (s && (s.state === 'running' || s.state === 'ready') && e.document.uri.toString() === s.uri) {
          if (e.contentChanges.length > 0) {
            this.cancel('the document was edited');
          }
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        const s = this.session;
        if (s?.active && s.state !== 'accepting' && editor?.document.uri.toString() !== s.uri) {
          this.cancel('switched to another editor');
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const s = this.session;
        if (
          s?.active &&
          s.state !== 'accepting' &&
          e.textEditor.document.uri.toString() === s.uri &&
          (e.kind === vscode.TextEditorSelectionChangeKind.Keyboard ||
            e.kind === vscode.TextEditorSelectionChangeKind.Mouse) &&
          !(e.selections.length === 1 && e.selections[0].isEmpty && e.selections[0].active.isEqual(s.anchor))
        ) {
          this.cancel('the cursor moved');
        }
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        if (this.session?.active && document.uri.toString() === this.session.uri) {
          this.cancel('the document was closed');
        }
      }),
    );
  }

  get current(): PreviewSession | undefined {
    return this.session;
  }

  // --- command -> request -> engine ----------------------------------------------------------------

  start(spec: SessionSpec): PreviewSession {
    if (this.session?.active) {
      this.cancel('superseded by a new request');
    }
    const s = new PreviewSession(spec);
    this.session = s;
    this.sessions.push(s);
    if (this.sessions.length > 50) {
      this.sessions.shift();
    }
    // Ghost text shows at the cursor only: park it at the region's end before the first frame.
    spec.editor.selection = new vscode.Selection(s.anchor, s.anchor);
    spec.editor.revealRange(spec.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    this.decoration.show(spec.editor, spec.range);
    void vscode.commands.executeCommand('setContext', CONTEXT_KEY, true);
    this.log.info(`request #${s.id} ${spec.kind}: ${spec.description}`);
    const crashesBefore = this.engine.crashes;
    this.engine
      .infill(spec.request, (snapshot) => this.onSnapshot(s, snapshot), s.abort.signal)
      .then(
        (result) => this.onResult(s, result),
        (err: unknown) => this.onError(s, err, crashesBefore),
      );
    this.changed.fire(s);
    return s;
  }

  // --- engine -> snapshot -> renderer --------------------------------------------------------------

  private onSnapshot(s: PreviewSession, snapshot: Snapshot): void {
    if (s !== this.session || s.state !== 'running') {
      return;
    }
    s.snapshots.push(snapshot);
    this.status.set({
      kind: 'step',
      step: snapshot.step,
      maxSteps: snapshot.maxSteps,
      ms: snapshot.elapsedMs,
      masksLeft: snapshot.masksLeft,
    });
    this.queueFrame(s, snapshot.text);
    this.changed.fire(s);
  }

  private onResult(s: PreviewSession, result: InfillResult): void {
    if (!s.transition('ready')) {
      return; // cancelled or rejected meanwhile
    }
    s.result = result;
    const empty = result.completion.length === 0;
    this.shown = { session: s, list: CandidateList.fromResult(result, !s.spec.range.isEmpty) };
    this.showDone(s);
    if (empty) {
      this.log.info(
        `request #${s.id} note: empty completion (nothing to preview); Tab twice removes a selected region, Esc keeps it`,
      );
    }
    for (const note of result.notes) {
      this.log.info(`request #${s.id} note: ${note}`);
    }
    const clipped = result.notes.find((n) => n.startsWith('canvas clipped'));
    if (clipped) {
      this.ui.warn(
        `the selection is longer than the model's context window, so the preview is shorter than the selection (${clipped}). Select a smaller region for a full infill.`,
      );
    }
    if (result.unsure) {
      this.log.info(
        `request #${s.id} note: the model is unsure (confidence ${Math.round(result.confidence * 100)}%): the preview is a guess`,
      );
    }
    this.queueFrame(s, this.shown.list.current.completion);
    this.changed.fire(s);
    if (s.acceptWhenReady) {
      void this.accept();
    }
  }

  private onError(s: PreviewSession, err: unknown, crashesBefore: number): void {
    if (isAbortError(err)) {
      if (s.transition('cancelled', 'aborted')) {
        this.end(s, 'cancelled', 'aborted');
      }
      return;
    }
    const code = (err as { code?: ErrorCode }).code;
    const message = err instanceof Error ? err.message : String(err);
    const crashed = this.engine.crashes > crashesBefore;
    const { text, outcome } = describeError(code, message, this.settings().modelFolder, crashed);
    if (!s.transition('failed', text)) {
      return;
    }
    this.end(s, outcome, `${code ?? 'error'}: ${message}`);
    this.status.set({ kind: 'error', message: text });
    if (!crashed) {
      // A crash is told once by the EngineService; the status bar and the log carry the rest.
      const actions: Record<string, () => void> = { 'Show Log': () => this.log.show() };
      if (outcome === 'no model' || code === 'model-invalid' || code === 'tokenizer-mismatch') {
        actions['Select Model'] = () => void vscode.commands.executeCommand('diffusionInfill.selectModel');
      }
      this.ui.error(text, actions);
    }
  }

  private queueFrame(s: PreviewSession, text: string): void {
    this.pendingFrame = { session: s, text };
    this.pumpFrames();
  }

  /** Shows the latest pending frame, at most one per snapshot interval, never two at once. */
  private pumpFrames(): void {
    if (this.frameBusy || this.frameTimer || !this.pendingFrame) {
      return;
    }
    const wait = this.lastFrameAt + this.settings().snapshotIntervalMs - Date.now();
    if (wait > 0) {
      this.frameTimer = setTimeout(() => {
        this.frameTimer = undefined;
        this.pumpFrames();
      }, wait);
      return;
    }
    const { session, text } = this.pendingFrame;
    this.pendingFrame = undefined;
    if (session !== this.session || !(session.state === 'running' || session.state === 'ready')) {
      return;
    }
    this.frameBusy = true;
    this.renderer
      .show(session.spec.editor, session.anchor, text)
      .catch((err: unknown) => this.log.warn(`ghost text refresh failed: ${String(err)}`))
      .finally(() => {
        this.frameBusy = false;
        this.lastFrameAt = Date.now();
        this.pumpFrames();
      });
  }

  // --- accept / reject / cancel --------------------------------------------------------------------

  /** Tab. Before the result: accept as soon as it arrives. Returns whether an accept happened or is pending. */
  async accept(): Promise<boolean> {
    const s = this.session;
    if (!s?.active) {
      return false;
    }
    if (s.state === 'running') {
      s.acceptWhenReady = true;
      return true;
    }
    const list = this.candidatesOf(s);
    if (s.state === 'ready' && list && !list.pressTab()) {
      this.showDone(s); // armed: the status bar says what the next Tab does
      return true;
    }
    if (s.state !== 'ready' || !s.result || !s.transition('accepting')) {
      return false;
    }
    const editor = s.spec.editor;
    const document = editor.document;
    if (document.isClosed || document.version !== s.version) {
      s.transition('cancelled', 'the document changed before accept');
      this.end(s, 'cancelled', 'the document changed before accept');
      return false;
    }
    const completion = list?.current.completion ?? s.result.completion;
    await this.renderer.clear();
    let applied = false;
    try {
      applied = await editor.edit((b) => b.replace(s.spec.range, completion), {
        undoStopBefore: true,
        undoStopAfter: true,
      });
    } catch (err) {
      this.log.error(`request #${s.id} edit failed: ${String(err)}`);
    }
    if (!applied) {
      s.transition('failed', 'the editor refused the edit');
      this.end(s, 'error', 'the editor refused the edit');
      this.ui.error('could not apply the infill (the editor refused the edit).');
      return false;
    }
    const end = document.positionAt(document.offsetAt(s.spec.range.start) + completion.length);
    editor.selection = new vscode.Selection(end, end);
    s.transition('accepted');
    const r = s.result;
    this.end(s, 'accepted', `${r.tokens} tokens, ${r.steps} steps, ${r.nfe} NFE, ${Math.round(r.ms)} ms`);
    return true;
  }

  /** The candidates of a finished session (undefined while running). */
  candidatesOf(s: PreviewSession | undefined = this.session): CandidateList | undefined {
    return s && this.shown?.session === s ? this.shown.list : undefined;
  }

  /** Alt+] (+1) / Alt+[ (-1): shows another candidate of the finished preview. */
  cycle(delta: number): boolean {
    const s = this.session;
    const list = this.candidatesOf(s);
    if (!s || s.state !== 'ready' || !list) {
      return false;
    }
    list.cycle(delta);
    this.showDone(s);
    this.queueFrame(s, list.current.completion);
    this.changed.fire(s);
    return true;
  }

  private showDone(s: PreviewSession): void {
    const r = s.result;
    const list = this.candidatesOf(s);
    if (!r || !list) {
      return;
    }
    const { label, tab } = list.describe();
    const c = list.current;
    this.status.set({
      kind: 'done',
      steps: r.steps,
      nfe: r.nfe,
      ms: r.ms,
      empty: c.completion.length === 0,
      candidate: { label, tab, unsure: c.unsure, count: list.count },
    });
  }

  /** Esc. */
  reject(): boolean {
    const s = this.session;
    if (!s?.active || s.state === 'accepting' || !s.transition('rejected')) {
      return false;
    }
    this.end(s, 'rejected', s.result ? '' : 'before the result');
    return true;
  }

  cancel(reason: string): boolean {
    const s = this.session;
    if (!s?.active || !s.transition('cancelled', reason)) {
      return false;
    }
    this.end(s, 'cancelled', reason);
    return true;
  }

  /** Clears the preview of a session that just reached a terminal state, and logs its outcome. */
  private end(s: PreviewSession, outcome: Outcome, detail: string): void {
    this.log.outcome(s.id, outcome, detail);
    if (s === this.session) {
      this.pendingFrame = undefined;
      if (this.frameTimer) {
        clearTimeout(this.frameTimer);
        this.frameTimer = undefined;
      }
      void this.renderer.clear();
      this.decoration.clear();
      void vscode.commands.executeCommand('setContext', CONTEXT_KEY, false);
      if (s.state !== 'failed') {
        this.status.set({ kind: 'idle' });
      }
    }
    this.changed.fire(s);
  }

  dispose(): void {
    this.cancel('the extension is shutting down');
    this.subscriptions.forEach((d) => d.dispose());
    this.changed.dispose();
  }
}

/** A user-facing sentence for an engine failure, and the outcome word for the log. */
export function describeError(
  code: ErrorCode | undefined,
  message: string,
  modelFolder: string,
  crashed: boolean,
): { text: string; outcome: Outcome } {
  if (crashed) {
    return {
      text: `the engine process crashed during the request (${message}). Try again.`,
      outcome: 'error',
    };
  }
  switch (code) {
    case 'model-missing':
    case 'not-loaded':
      return { text: `no model found in ${modelFolder}: ${message}`, outcome: 'no model' };
    case 'model-invalid':
      return { text: `the model in ${modelFolder} is invalid: ${message}`, outcome: 'error' };
    case 'tokenizer-mismatch':
      return {
        text: `the tokenizer does not match the model in ${modelFolder}: ${message}`,
        outcome: 'error',
      };
    case 'too-long':
      return {
        text: `the selection is too long for the model's context window: ${message}. Select a smaller region.`,
        outcome: 'error',
      };
    case 'bad-request':
      return { text: `invalid request or settings: ${message}`, outcome: 'error' };
    default:
      return { text: `engine error: ${message}`, outcome: 'error' };
  }
}
