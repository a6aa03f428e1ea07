// The infill flow, top to bottom: a session starts (region decorated, cursor parked at the region's
// end) -> the request goes to the engine -> each snapshot updates the status bar and, throttled by the
// FramePump, the ghost text -> the result waits for Tab (accept: one edit) or Esc (reject).
// Typing in the document, any selection change we did not make, switching editors or a new request
// cancels. Nothing here edits the document except an accept (and taking back a ghost-text insertion
// VS Code made by itself, see onGhostTextInserted). Error sentences live in errorText.ts, the text an
// accept writes in acceptText.ts.
import * as vscode from 'vscode';
import { isAbortError } from '../engine/errors';
import type { ErrorCode, InfillResult, Snapshot } from '../engine/protocol';
import { ghostTextAt, isGhostTextInsertion, shownText, textToInsert } from './acceptText';
import type { RegionDecoration } from './decorations';
import type { EngineService } from './engineService';
import { describeError } from './errorText';
import { CandidateList } from './candidates';
import { FramePump } from './framePump';
import type { GhostTextRenderer } from './ghostText';
import type { Log, Outcome } from './log';
import { PreviewSession, type SessionSpec } from './preview';
import type { Settings } from './settings';
import type { StatusBar } from './statusBar';
import type { Ui } from './ui';

export { describeError } from './errorText';

export const CONTEXT_KEY = 'diffusionInfill.previewActive';

/** How often a waiting result's ghost text is shown again (after focus left the editor and came back). */
const KEEP_ALIVE_MS = 750;

/** What the user reads when Tab meets an empty result (also pinned by the in-host tests). */
export const EMPTY_RESULT_MESSAGE =
  'empty result — nothing to accept (the model filled the hole with nothing). Esc dismisses the preview; the selection stays as it is.';

function isAt(selection: vscode.Selection, position: vscode.Position): boolean {
  return selection.isEmpty && selection.active.isEqual(position);
}

function isRegion(selection: vscode.Selection, range: vscode.Range): boolean {
  return !range.isEmpty && selection.start.isEqual(range.start) && selection.end.isEqual(range.end);
}

function eolOf(document: vscode.TextDocument): '\n' | '\r\n' {
  return document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
}

export class InfillController implements vscode.Disposable {
  private session?: PreviewSession;
  /** Recent sessions, oldest first (for the tests and the log). */
  readonly sessions: PreviewSession[] = [];
  private readonly changed = new vscode.EventEmitter<PreviewSession>();
  /** Fires on every session state change and snapshot. */
  readonly onDidChangeSession = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly frames: FramePump;
  /** While a result waits for Tab: re-shows the ghost text that VS Code hid when focus left the editor. */
  private keepAlive?: NodeJS.Timeout;
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
    this.frames = new FramePump(
      renderer,
      () => this.settings().snapshotIntervalMs,
      (m) => this.log.warn(m),
    );
    this.subscriptions.push(
      this.frames,
      vscode.workspace.onDidChangeTextDocument((e) => this.onDocumentChange(e)),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        const s = this.session;
        if (s?.active && s.state !== 'accepting' && editor?.document.uri.toString() !== s.uri) {
          this.cancel('switched to another editor');
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        const s = this.session;
        // Any selection change in the preview's editor that is not our parked cursor cancels, whatever
        // its kind: keyboard and mouse, but also Go to Line, Find, a command or another extension
        // (kind Command or undefined). Otherwise Tab would replace a region the user cannot see.
        // The selection the command started from (the region itself) is not a move either: its event
        // can arrive after the session started, since the workbench reports selections asynchronously.
        if (
          s?.active &&
          s.state !== 'accepting' &&
          e.textEditor === s.spec.editor &&
          !(
            e.selections.length === 1 &&
            (isAt(e.selections[0], s.anchor) || isRegion(e.selections[0], s.spec.range))
          )
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

  // --- document changes -----------------------------------------------------------------------------

  private onDocumentChange(e: vscode.TextDocumentChangeEvent): void {
    const s = this.session;
    if (!s || e.contentChanges.length === 0 || e.document.uri.toString() !== s.uri) {
      return;
    }
    if (s.state === 'accepting') {
      s.editedWhileAccepting = true; // the accept's own edit, or someone else's: told apart by version
      return;
    }
    if (s.state !== 'running' && s.state !== 'ready') {
      return;
    }
    const inserted =
      e.contentChanges.length === 1 ? this.insertionAtAnchor(s, e.contentChanges[0], e.document) : undefined;
    if (
      inserted !== undefined &&
      [...s.ghostTexts].some((frame) => isGhostTextInsertion(inserted, frame, eolOf(e.document)))
    ) {
      this.onGhostTextInserted(s, inserted, e.document);
      return;
    }
    const c = e.contentChanges
      .map(
        (x) =>
          `${x.range.start.line + 1}:${x.range.start.character + 1} -${x.rangeLength} +${JSON.stringify(x.text.slice(0, 40))}`,
      )
      .join(', ');
    this.log.debug(`request #${s.id} document edited at ${c}`);
    this.cancel('the document was edited');
  }

  /**
   * The text a change inserted at the session's anchor, if it is a pure insertion there. At a line-end
   * anchor, inserting "X<EOL>" at the start of the next line makes the same document as inserting
   * "<EOL>X" at the anchor, and VS Code may report either: it is read as the latter.
   */
  private insertionAtAnchor(
    s: PreviewSession,
    change: vscode.TextDocumentContentChangeEvent,
    document: vscode.TextDocument,
  ): string | undefined {
    if (change.rangeLength !== 0) {
      return undefined;
    }
    if (change.range.start.isEqual(s.anchor)) {
      return change.text;
    }
    const eol = eolOf(document);
    if (s.lineEndAnchor && change.range.start.isEqual(s.spec.range.end) && change.text.endsWith(eol)) {
      return eol + change.text.slice(0, -eol.length);
    }
    return undefined;
  }

  /**
   * VS Code's own inline-suggest accept (Tab outside our keybinding, the hover toolbar, accept word /
   * line) inserted our ghost text at the anchor without removing the region. The full final result is
   * turned into the accept it was meant to be (region + insertion replaced in one edit); anything else
   * (a placeholder frame, a word of it) is taken out again and the preview cancelled, with a message.
   */
  private onGhostTextInserted(s: PreviewSession, inserted: string, document: vscode.TextDocument): void {
    const eol = eolOf(document);
    const insertedEnd = document.positionAt(document.offsetAt(s.anchor) + inserted.length);
    const shown = this.shownCompletion(s);
    const whole =
      s.state === 'ready' &&
      s.result !== undefined &&
      inserted === textToInsert('', ghostTextAt(shown, s.lineEndAnchor), eol);
    if (whole && s.transition('accepting')) {
      this.log.info(`request #${s.id} VS Code inserted the whole preview: replacing the region with it`);
      // At a line-end anchor the region's own final line break is still after the insertion: the
      // replacement leaves it out.
      const text = textToInsert(s.regionText, shown, eol);
      void this.applyAccept(
        s,
        new vscode.Range(s.spec.range.start, insertedEnd),
        s.lineEndAnchor ? text.slice(0, -eol.length) : text,
      );
      return;
    }
    this.cancel('VS Code inserted the preview text by itself');
    void s.spec.editor
      .edit((b) => b.delete(new vscode.Range(s.anchor, insertedEnd)), {
        undoStopBefore: false,
        undoStopAfter: false,
      })
      .then(
        (ok) => ok || this.log.warn(`request #${s.id} could not take back VS Code's insertion`),
        (err: unknown) =>
          this.log.warn(`request #${s.id} could not take back VS Code's insertion: ${String(err)}`),
      );
    this.ui.warn(
      "VS Code's own accept inserted the preview without replacing the struck-through region, so it was taken out again. Use Tab (Diffusion Infill: Accept Infill) on the final result: it replaces the region.",
    );
  }

  // --- engine -> snapshot -> renderer --------------------------------------------------------------

  private onSnapshot(s: PreviewSession, snapshot: Snapshot): void {
    if (s !== this.session || s.state !== 'running') {
      return;
    }
    s.snapshots.push(snapshot);
    this.status.showStep(snapshot);
    this.queueFrame(s, shownText(snapshot.text, s.regionText));
    this.changed.fire(s);
  }

  private onResult(s: PreviewSession, result: InfillResult): void {
    if (!s.transition('ready')) {
      return; // cancelled or rejected meanwhile
    }
    s.result = result;
    this.shown = { session: s, list: CandidateList.fromResult(result, !s.spec.range.isEmpty) };
    this.showDone(s);
    if (result.completion.length === 0) {
      this.log.info(
        `request #${s.id} note: empty completion: nothing to accept (Tab does nothing), Esc dismisses`,
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
    this.queueFrame(s, this.shownCompletion(s));
    this.startKeepAlive(s);
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

  /** Queues `text` (shownText of a frame or the completion) as the session's ghost text. */
  private queueFrame(s: PreviewSession, text: string): void {
    const ghost = ghostTextAt(text, s.lineEndAnchor);
    s.ghostTexts.add(ghost);
    this.frames.queue(
      {
        editor: s.spec.editor,
        position: s.anchor,
        stillWanted: () => s === this.session && (s.state === 'running' || s.state === 'ready'),
      },
      ghost,
    );
  }

  /**
   * VS Code hides ghost text when the editor loses focus (a panel, the terminal) and does not bring it
   * back, while our strike-through and "Tab accept" stay: the user would accept text they no longer
   * see. So while a result waits, the final frame is shown again every KEEP_ALIVE_MS when our editor
   * is the active one (a no-op for the user while it is still visible, see ghostText.ts).
   */
  private startKeepAlive(s: PreviewSession): void {
    this.stopKeepAlive();
    if (s.result !== undefined && this.shownCompletion(s).length === 0) {
      return; // nothing to show
    }
    this.keepAlive = setInterval(() => {
      if (s !== this.session || s.state !== 'ready') {
        this.stopKeepAlive();
        return;
      }
      if (vscode.window.activeTextEditor === s.spec.editor) {
        this.queueFrame(s, this.shownCompletion(s));
      }
    }, KEEP_ALIVE_MS);
  }

  private stopKeepAlive(): void {
    if (this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  // --- accept / reject / cancel --------------------------------------------------------------------

  /**
   * Tab. Before the result: accept as soon as it arrives. An empty result is never "accepted" (that
   * would delete the selection behind a preview that shows nothing): the user is told and the preview
   * stays for Esc. Returns whether an accept happened or is pending.
   */
  async accept(): Promise<boolean> {
    const s = this.session;
    if (!s?.active) {
      return false;
    }
    if (s.state === 'running') {
      s.acceptWhenReady = true;
      return true;
    }
    if (s.state !== 'ready' || !s.result) {
      return false;
    }
    if (this.shownCompletion(s).length === 0) {
      s.acceptWhenReady = false; // an early Tab is answered too: nothing to accept
      this.log.info(`request #${s.id} Tab on an empty result: nothing accepted`);
      this.ui.info(EMPTY_RESULT_MESSAGE);
      return false;
    }
    const list = this.candidatesOf(s);
    if (list && !list.pressTab()) {
      s.acceptWhenReady = false; // an early Tab is answered: it armed, the next Tab inserts
      this.showDone(s); // armed (an unsure guess): the status bar says what the next Tab does
      return true;
    }
    const document = s.spec.editor.document;
    if (document.isClosed || document.version !== s.version) {
      this.cancel('the document changed before accept');
      return false;
    }
    if (!s.transition('accepting')) {
      return false;
    }
    return this.applyAccept(
      s,
      s.spec.range,
      textToInsert(s.regionText, this.shownCompletion(s), eolOf(s.spec.editor.document)),
    );
  }

  /** Replaces `range` with `text`, the result (state accepting). */
  private async applyAccept(s: PreviewSession, range: vscode.Range, text: string): Promise<boolean> {
    const editor = s.spec.editor;
    const document = editor.document;
    const startOffset = document.offsetAt(range.start);
    const version = document.version;
    // The edit is issued in the same tick as the caller's version check, before any await: VS Code
    // applies an edit only to the document version it was made for, so an edit arriving in between
    // makes this one fail (cancelled below) instead of landing on a stale range.
    const editing = editor.edit((b) => b.replace(range, text), { undoStopBefore: true, undoStopAfter: true });
    this.stopKeepAlive();
    this.frames.stop();
    void this.renderer.clear();
    let applied = false;
    try {
      applied = await editing;
    } catch (err) {
      this.log.error(`request #${s.id} edit failed: ${String(err)}`);
    }
    if (!applied) {
      if (s.editedWhileAccepting || document.version !== version) {
        s.transition('cancelled', 'the document changed before accept');
        this.end(s, 'cancelled', 'the document changed before accept');
        return false;
      }
      s.transition('failed', 'the editor refused the edit');
      this.end(s, 'error', 'the editor refused the edit');
      this.ui.error('could not apply the infill (the editor refused the edit).');
      return false;
    }
    // Only our edit happened since: the cursor goes right after the inserted text (in the document's
    // own line endings). If something else edited meanwhile, VS Code has already placed the cursor.
    if (document.version === version + 1) {
      const end = document.positionAt(startOffset + text.length);
      editor.selection = new vscode.Selection(end, end);
    }
    s.transition('accepted');
    const r = s.result!;
    this.end(s, 'accepted', `${r.tokens} tokens, ${r.steps} steps, ${r.nfe} NFE, ${Math.round(r.ms)} ms`);
    return true;
  }

  /**
   * The completion the preview shows and Tab writes (the same string, see shownText): the current
   * candidate of a finished session.
   */
  shownCompletion(s: PreviewSession): string {
    const raw = this.candidatesOf(s)?.current.completion ?? s.result?.completion ?? '';
    return shownText(raw, s.regionText);
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
    this.queueFrame(s, this.shownCompletion(s));
    this.startKeepAlive(s);
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
      this.stopKeepAlive();
      this.frames.stop();
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
