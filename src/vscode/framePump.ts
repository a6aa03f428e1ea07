// Ghost-text frames at a readable rate: the latest pending frame is shown at most once per snapshot
// interval and never two at once (each show is a provider re-registration plus a trigger round trip),
// so a fast engine cannot flood the workbench and a slow frame cannot be overtaken by an older one.
import type * as vscode from 'vscode';
import type { GhostTextRenderer } from './ghostText';

export interface FrameTarget {
  editor: vscode.TextEditor;
  position: vscode.Position;
  /** Checked when the frame's turn comes: a frame of a session that ended is dropped. */
  stillWanted(): boolean;
}

export class FramePump {
  private pending?: { target: FrameTarget; text: string };
  private timer?: NodeJS.Timeout;
  private busy = false;
  private lastAt = 0;

  constructor(
    private readonly renderer: GhostTextRenderer,
    private readonly intervalMs: () => number,
    private readonly warn: (message: string) => void,
  ) {}

  queue(target: FrameTarget, text: string): void {
    this.pending = { target, text };
    this.pump();
  }

  /** Drops any pending frame (the session ended). */
  stop(): void {
    this.pending = undefined;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private pump(): void {
    if (this.busy || this.timer || !this.pending) {
      return;
    }
    const wait = this.lastAt + this.intervalMs() - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const { target, text } = this.pending;
    this.pending = undefined;
    if (!target.stillWanted()) {
      return;
    }
    this.busy = true;
    this.renderer
      .show(target.editor, target.position, text)
      .catch((err: unknown) => this.warn(`ghost text refresh failed: ${String(err)}`))
      .finally(() => {
        this.busy = false;
        this.lastAt = Date.now();
        this.pump();
      });
  }

  dispose(): void {
    this.stop();
  }
}
