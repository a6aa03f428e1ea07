// Progress and remaining-time estimate on stderr: a line rewritten in place on a terminal, otherwise a
// line every few seconds (logs stay short). The rate counts only tasks run now, not cached ones.

export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return '?';
  }
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(r).padStart(2, '0')}s`
      : `${r}s`;
}

export class Progress {
  private done = 0;
  private cached = 0;
  private ranMs = 0;
  private lastPrint = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    /** null: silent. */
    private readonly sink: ProgressSink | null = process.stderr,
    private readonly intervalMs = 5000,
  ) {}

  /** One task finished; `fromCache` tasks cost nothing and do not enter the rate. */
  tick(fromCache: boolean, status: string): void {
    this.done++;
    if (fromCache) {
      this.cached++;
    }
    this.ranMs = performance.now() - this.t0;
    const now = performance.now();
    const last = this.done === this.total;
    if (!this.sink || (!this.sink.isTTY && !last && now - this.lastPrint < this.intervalMs)) {
      return;
    }
    this.lastPrint = now;
    const ran = this.done - this.cached;
    const perTask = ran > 0 ? this.ranMs / 1000 / ran : NaN;
    const eta = perTask * (this.total - this.done);
    const line =
      `${this.label} [${this.done}/${this.total}]` +
      (this.cached > 0 ? ` (${this.cached} cached)` : '') +
      ` ${status}` +
      (ran > 0 ? ` | ${perTask.toFixed(2)} s/task | ETA ${formatDuration(eta)}` : '');
    if (this.sink.isTTY) {
      this.sink.write(`\r\x1b[K${line}${last ? '\n' : ''}`);
    } else {
      this.sink.write(line + '\n');
    }
  }
}
