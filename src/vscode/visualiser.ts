// Denoising visualiser: a webview panel that shows the canvas of the active request as it refines,
// one cell per token (confidence colour, commit step, re-mask marker), and replays it with a step
// slider once it ends. While the panel is open the engine is asked for per-position traces
// (EngineService.trace); closed, requests carry no trace and the loop does no extra work.
// The webview's assets live in media/ (strict CSP with a nonce, no network, theme CSS variables).
import * as crypto from 'crypto';
import * as vscode from 'vscode';
import type { Snapshot } from '../engine/protocol';
import type { InfillController } from './controller';
import type { EngineService } from './engineService';
import type { RefineController } from './refine';

/** What the panel follows: an infill preview session or a refine session. */
interface Followed {
  id: number;
  snapshots: Snapshot[];
  state: string;
  description: string;
  kind: 'infill' | 'refine';
}

export type ToWebview =
  | { type: 'request'; id: number; kind: string; description: string }
  | { type: 'snapshots'; id: number; snapshots: Snapshot[] }
  | { type: 'state'; id: number; state: string; finished: boolean };

const FINISHED = new Set(['ready', 'accepted', 'rejected', 'cancelled', 'failed', 'unchanged']);

export class Visualiser implements vscode.Disposable {
  private panel?: vscode.WebviewPanel;
  private followed?: Followed;
  /** Snapshots of the followed request already posted. */
  private posted = 0;
  private lastState?: string;
  private webviewReady = false;
  private readonly item: vscode.StatusBarItem;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Messages posted to the webview, newest last (for the tests). */
  readonly sent: ToWebview[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly engine: EngineService,
    controller: InfillController,
    refine: RefineController,
  ) {
    // A second status bar item, shown only while a preview is active: one click opens the panel.
    this.item = vscode.window.createStatusBarItem(
      'diffusionInfill.visualiser',
      vscode.StatusBarAlignment.Right,
      99,
    );
    this.item.name = 'Diffusion Infill: Denoising Visualiser';
    this.item.text = '$(pulse) Visualise';
    this.item.tooltip =
      'Diffusion Infill: show the denoising visualiser (one cell per token, confidence, commit step)';
    this.item.command = 'diffusionInfill.showVisualiser';
    this.subscriptions.push(
      controller.onDidChangeSession((s) =>
        this.follow({
          id: s.id,
          snapshots: s.snapshots,
          state: s.state,
          description: s.spec.description,
          kind: 'infill',
        }),
      ),
      refine.onDidChangeSession((s) =>
        this.follow({
          id: s.id,
          snapshots: s.snapshots,
          state: s.state,
          description: s.description,
          kind: 'refine',
        }),
      ),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  open(): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      return;
    }
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const panel = vscode.window.createWebviewPanel(
      'diffusionInfill.visualiser',
      'Denoising Visualiser',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [media], retainContextWhenHidden: true },
    );
    this.panel = panel;
    this.webviewReady = false;
    this.engine.trace = true;
    panel.webview.html = this.html(panel.webview, media);
    panel.webview.onDidReceiveMessage((m: { type?: string }) => {
      if (m?.type === 'ready') {
        this.webviewReady = true;
        this.replayFollowed();
      }
    });
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.webviewReady = false;
      this.engine.trace = false;
    });
  }

  close(): void {
    this.panel?.dispose();
  }

  private follow(f: Followed): void {
    const active = !FINISHED.has(f.state) || f.state === 'ready';
    if (active) {
      this.item.show();
    } else if (!this.followed || this.followed.id === f.id) {
      this.item.hide();
    }
    if (!this.followed || this.followed.id !== f.id) {
      if (!active && this.followed) {
        return; // an old session's late event: keep following the current one
      }
      this.followed = f;
      this.posted = 0;
      this.lastState = undefined;
      this.post({ type: 'request', id: f.id, kind: f.kind, description: f.description });
    }
    this.followed = f;
    this.flush();
  }

  private replayFollowed(): void {
    const f = this.followed;
    if (!f) {
      return;
    }
    this.posted = 0;
    this.lastState = undefined;
    this.post({ type: 'request', id: f.id, kind: f.kind, description: f.description });
    this.flush();
  }

  private flush(): void {
    const f = this.followed;
    if (!f || !this.panel || !this.webviewReady) {
      return;
    }
    if (f.snapshots.length > this.posted) {
      this.post({ type: 'snapshots', id: f.id, snapshots: f.snapshots.slice(this.posted) });
      this.posted = f.snapshots.length;
    }
    if (f.state !== this.lastState) {
      this.lastState = f.state;
      this.post({ type: 'state', id: f.id, state: f.state, finished: FINISHED.has(f.state) });
    }
  }

  private post(message: ToWebview): void {
    if (!this.panel || !this.webviewReady) {
      return;
    }
    this.sent.push(message);
    if (this.sent.length > 500) {
      this.sent.splice(0, this.sent.length - 500);
    }
    void this.panel.webview.postMessage(message);
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'visualiser.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'visualiser.css'));
    // No network: only our own stylesheet and the nonce'd script; no inline styles or scripts.
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>Denoising Visualiser</title>
</head>
<body>
<main id="di-visualiser">
  <header>
    <div id="request">No request yet: run Infill Selection, Generate from Prompt or Refine Selection.</div>
    <div id="progress"></div>
  </header>
  <div id="notice" hidden></div>
  <div id="cells" role="list" aria-label="canvas tokens"></div>
  <footer>
    <label for="step">Replay step <output id="step-label">–</output></label>
    <input id="step" type="range" min="0" max="0" value="0" disabled>
    <div class="legend">
      <span class="cell masked">░</span> masked
      <span class="cell committed c0">a</span><span class="cell committed c2">a</span><span class="cell committed c4">a</span> confidence low → high
      <span class="cell committed remasked">a</span> re-masked before
      <span class="cell committed end">end</span> end / pad
    </div>
  </footer>
</main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.panel?.dispose();
    this.item.dispose();
    this.subscriptions.forEach((d) => d.dispose());
  }
}
