// The "Diffusion Infill" LogOutputChannel. Every request ends in exactly one outcome line
// (accepted / rejected / cancelled: reason / no model / error / refused), and the last lines are
// kept in memory so the in-host tests can read what a user would see in the channel.
import * as vscode from 'vscode';

export type Outcome =
  | 'accepted'
  | 'rejected'
  | 'cancelled'
  | 'no model'
  | 'error'
  | 'refused'
  // Refine Selection found nothing to change.
  | 'unchanged';

export interface LogEntry {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

const KEEP = 500;

export class Log implements vscode.Disposable {
  private readonly channel: vscode.LogOutputChannel;
  readonly entries: LogEntry[] = [];

  constructor(name = 'Diffusion Infill') {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }

  info(message: string): void {
    this.push('info', message);
    this.channel.info(message);
  }

  warn(message: string): void {
    this.push('warn', message);
    this.channel.warn(message);
  }

  error(message: string): void {
    this.push('error', message);
    this.channel.error(message);
  }

  debug(message: string): void {
    this.push('debug', message);
    this.channel.debug(message);
  }

  /** The closing line of a request. */
  outcome(requestId: number, outcome: Outcome, detail: string): void {
    const message = `request #${requestId} ${outcome}${detail ? `: ${detail}` : ''}`;
    if (outcome === 'error' || outcome === 'no model') {
      this.error(message);
    } else if (outcome === 'refused') {
      this.warn(message);
    } else {
      this.info(message);
    }
  }

  /** Forwards engine log lines. */
  engine(level: 'info' | 'warn' | 'error', message: string): void {
    const line = `engine: ${message}`;
    if (level === 'error') {
      this.error(line);
    } else if (level === 'warn') {
      this.warn(line);
    } else {
      this.info(line);
    }
  }

  show(): void {
    this.channel.show(true);
  }

  private push(level: LogEntry['level'], message: string): void {
    this.entries.push({ level, message });
    if (this.entries.length > KEEP) {
      this.entries.splice(0, this.entries.length - KEEP);
    }
  }

  dispose(): void {
    this.channel.dispose();
  }
}
