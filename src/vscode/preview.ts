// One preview session: the life of one infill request in the editor, as a small state machine.
//
//   running --result--> ready --accept--> accepting --edit applied--> accepted
//      |                  |                   '--edit refused------> failed
//      |                  '--reject / cancel--> rejected / cancelled
//      |--accept (early)--> (acceptWhenReady, still running)
//      |--reject / cancel--> rejected / cancelled (the engine request is aborted)
//      '--engine error-----> failed
//
// Terminal states: accepted, rejected, cancelled, failed. The document is touched only by the
// accepting -> accepted transition (one edit, one undo step).
import type * as vscode from 'vscode';
import type { InfillRequest, InfillResult, Snapshot } from '../engine/protocol';

export type SessionKind = 'selection' | 'cursor' | 'prompt';
export type SessionState =
  'running' | 'ready' | 'accepting' | 'accepted' | 'rejected' | 'cancelled' | 'failed';

const TRANSITIONS: Record<SessionState, SessionState[]> = {
  running: ['ready', 'rejected', 'cancelled', 'failed'],
  ready: ['accepting', 'rejected', 'cancelled'],
  accepting: ['accepted', 'failed', 'cancelled'],
  accepted: [],
  rejected: [],
  cancelled: [],
  failed: [],
};

export function isTerminal(state: SessionState): boolean {
  return TRANSITIONS[state].length === 0;
}

export interface SessionSpec {
  kind: SessionKind;
  editor: vscode.TextEditor;
  /** The region replaced on accept (empty for an insertion at the cursor). */
  range: vscode.Range;
  request: Omit<InfillRequest, 'id'>;
  /** A short description for the log (file, lines, sizes). */
  description: string;
}

let lastRequestId = 0;

/** Ids shared by sessions and by requests refused before a session starts, so every log line has one. */
export function allocateRequestId(): number {
  return ++lastRequestId;
}

export class PreviewSession {
  readonly id = allocateRequestId();
  readonly uri: string;
  /** Document version when the session started; accept refuses if it changed. */
  readonly version: number;
  /**
   * Where the ghost text is anchored (the cursor is put there): the end of the region, or for a
   * whole-line region (one that ends with a line break) the end of its last line (see lineEndAnchor).
   */
  readonly anchor: vscode.Position;
  /**
   * The region ends with a line break and the ghost text starts with it, drawn from the end of the
   * region's last line (ghostTextAt). Anchored at the start of the next line instead, the preview
   * would need to end with that line break, and VS Code draws no ghost text that does there; without
   * it the next line's text would be drawn joined to the last line of the preview.
   */
  readonly lineEndAnchor: boolean;
  readonly abort = new AbortController();
  readonly snapshots: Snapshot[] = [];
  private currentState: SessionState = 'running';
  result?: InfillResult;
  /** Tab pressed before the result arrived: accept as soon as it does. */
  acceptWhenReady = false;
  /** Why the session ended (cancel reason, error message). */
  reason?: string;
  /** The region's text when the session started (its final newline is kept on accept). */
  readonly regionText: string;
  /**
   * Every text queued as ghost text in this session: what VS Code's own accept could insert (it can
   * commit a frame older than the last one it was given).
   */
  readonly ghostTexts = new Set<string>();
  /** A document change arrived while the accept's edit was in flight. */
  editedWhileAccepting = false;
  private readonly settled: Promise<SessionState>;
  private resolveSettled!: (state: SessionState) => void;

  constructor(readonly spec: SessionSpec) {
    this.uri = spec.editor.document.uri.toString();
    this.version = spec.editor.document.version;
    const document = spec.editor.document;
    this.regionText = document.getText(spec.range);
    this.lineEndAnchor = spec.range.end.character === 0 && spec.range.end.line > spec.range.start.line;
    this.anchor = this.lineEndAnchor ? document.lineAt(spec.range.end.line - 1).range.end : spec.range.end;
    this.settled = new Promise((resolve) => (this.resolveSettled = resolve));
  }

  get state(): SessionState {
    return this.currentState;
  }

  get active(): boolean {
    return !isTerminal(this.currentState);
  }

  /** Resolves with the terminal state. */
  get done(): Promise<SessionState> {
    return this.settled;
  }

  /** Moves to `to` if the machine allows it; returns whether it did. */
  transition(to: SessionState, reason?: string): boolean {
    if (!TRANSITIONS[this.currentState].includes(to)) {
      return false;
    }
    this.currentState = to;
    if (reason !== undefined) {
      this.reason = reason;
    }
    if (isTerminal(to)) {
      if (!this.abort.signal.aborted) {
        this.abort.abort();
      }
      this.resolveSettled(to);
    }
    return true;
  }
}
