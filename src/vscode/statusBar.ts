// One status bar item with four states: idle, loading, step k/N (+ timing), error.
// Each change is also recorded (state history) for the in-host tests.
import * as vscode from 'vscode';
import type { Snapshot } from '../engine/protocol';

export type StatusState =
  | { kind: 'idle'; detail?: string }
  | { kind: 'loading'; detail?: string }
  | { kind: 'step'; step: number; maxSteps: number; ms: number; masksLeft: number }
  | {
      kind: 'done';
      steps: number;
      nfe: number;
      ms: number;
      empty?: boolean;
      /** The shown candidate (candidates.ts): position, score, unsure; and what Tab does. */
      candidate?: { label: string; tab: string; unsure: boolean; count: number };
    }
  | { kind: 'error'; message: string };

/** What the tooltip says about the execution provider beyond its name. */
export interface ProviderDetail {
  adapter?: string;
  precision?: string;
  attempts?: readonly { provider: string; reason: string }[];
  note?: string;
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private current: StatusState = { kind: 'idle' };
  /** Provider in use and fallback reason, shown in the tooltip and (fallback) the text. */
  private provider?: { name: string; fallbackReason?: string; detail?: ProviderDetail };
  readonly history: StatusState[] = [];

  constructor() {
    this.item = vscode.window.createStatusBarItem(
      'diffusionInfill.status',
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.item.name = 'Diffusion Infill';
    this.item.command = 'diffusionInfill.showLog';
    this.set({ kind: 'idle' });
    this.item.show();
  }

  get state(): StatusState {
    return this.current;
  }

  get text(): string {
    return this.item.text;
  }

  /** The hover text (provider, adapter, providers not used and why); read by the in-host tests. */
  get tooltip(): string {
    return typeof this.item.tooltip === 'string' ? this.item.tooltip : (this.item.tooltip?.value ?? '');
  }

  setProvider(name: string, fallbackReason?: string, detail?: ProviderDetail): void {
    this.provider = { name, fallbackReason, detail };
    this.render();
  }

  /** A denoising step of the running request (infill, prompt or refine). */
  showStep(snapshot: Snapshot): void {
    this.set({
      kind: 'step',
      step: snapshot.step,
      maxSteps: snapshot.maxSteps,
      ms: snapshot.elapsedMs,
      masksLeft: snapshot.masksLeft,
    });
  }

  set(state: StatusState): void {
    this.current = state;
    this.history.push(state);
    // Bounded, but long enough that a whole in-host suite run never drops entries a test slices by index.
    if (this.history.length > 20000) {
      this.history.splice(0, this.history.length - 20000);
    }
    this.render();
  }

  private render(): void {
    const s = this.current;
    const fallback = this.provider?.fallbackReason ? ` (${this.provider.name} fallback)` : '';
    let tooltip = 'Diffusion Infill: click to show the log';
    if (this.provider) {
      const d = this.provider.detail;
      tooltip += `\nExecution provider: ${this.provider.name}`;
      tooltip += d?.adapter ? ` on ${d.adapter}` : '';
      tooltip += d?.precision ? ` (${d.precision})` : '';
      if (this.provider.fallbackReason) {
        tooltip += `\nFallback: ${this.provider.fallbackReason}`;
      } else {
        // With auto, the GPU providers skipped on the way to this one (not failures, but the user's answer
        // to "why is my GPU not used?").
        for (const a of d?.attempts ?? []) {
          tooltip += `\nNot used: ${a.provider}: ${a.reason}`;
        }
      }
      if (d?.note && !d.attempts?.length) {
        tooltip += `\nNote: ${d.note}`;
      }
    }
    this.item.backgroundColor = undefined;
    switch (s.kind) {
      case 'idle':
        this.item.text = `$(sparkle) Diffusion${fallback}`;
        if (s.detail) {
          tooltip += `\n${s.detail}`;
        }
        break;
      case 'loading':
        this.item.text = '$(loading~spin) Diffusion: loading model';
        if (s.detail) {
          tooltip += `\n${s.detail}`;
        }
        break;
      case 'step':
        this.item.text = `$(loading~spin) Diffusion: step ${s.step}/${s.maxSteps} · ${Math.round(s.ms)} ms`;
        tooltip += `\n${s.masksLeft} masked positions left`;
        break;
      case 'done':
        // An empty result offers no Tab: accepting it would delete the selection behind a preview
        // that shows nothing (the controller refuses it and says so).
        if (s.empty) {
          const c = s.candidate && s.candidate.count > 1 ? s.candidate : undefined;
          const label = c ? `${c.label} · ` : '';
          const next = c ? ', Alt+] next' : '';
          this.item.text = `$(circle-slash) Diffusion: ${label}empty result — nothing to accept · ${Math.round(s.ms)} ms · Esc dismiss${next}`;
        } else if (s.candidate) {
          const c = s.candidate;
          const next = c.count > 1 ? ', Alt+] next' : '';
          this.item.text = `${c.unsure ? '$(question)' : '$(check)'} Diffusion: ${c.label} · ${Math.round(s.ms)} ms · ${c.tab}${next}, Esc reject`;
          tooltip += `\n${s.steps} steps`;
          if (c.unsure) {
            tooltip +=
              '\nThe model is unsure of this completion (low confidence): it is a guess, not an answer.';
          }
        } else {
          this.item.text = `$(check) Diffusion: ${s.steps} steps · ${Math.round(s.ms)} ms · Tab accept, Esc reject`;
        }
        tooltip += `\n${s.nfe} forward passes`;
        if (s.empty) {
          tooltip +=
            '\nThe model filled the hole with nothing: Tab does nothing, Esc dismisses; the selection stays.';
        }
        break;
      case 'error':
        this.item.text = '$(error) Diffusion: error';
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        tooltip += `\n${s.message}`;
        break;
    }
    this.item.tooltip = tooltip;
  }

  dispose(): void {
    this.item.dispose();
  }
}
