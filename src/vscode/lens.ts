// Confidence lens: scores the function around the cursor with the bidirectional model (G passes, in
// the engine process) and underlines the tokens it finds least likely; hovering one shows the model's
// top alternatives with their probabilities. Cleared on any edit of the document. Bounded cost: one
// lens request at a time, never while an infill or a refinement is running, results dropped when the
// document changed meanwhile; the optional on-idle mode waits for the cursor to rest and never
// blocks typing (the scoring runs in the engine process, the editor only awaits a message).
import * as vscode from 'vscode';
import { isAbortError } from '../engine/errors';
import type { ScoreResult, TokenScore } from '../engine/protocol';
import type { InfillController } from './controller';
import type { EngineService } from './engineService';
import type { Log } from './log';
import type { RefineController } from './refine';
import { formatProb } from './refine';
import { checkDocument, RefusedError } from './documentRequest';
import { regionContext } from './regionContext';
import { SECTION, type Settings } from './settings';
import type { Ui } from './ui';

export interface LensSettings {
  /** Underline at most this many tokens per function. */
  tokens: number;
  /** ... and only those scoring below this probability. */
  threshold: number;
  groups: number;
  onIdle: boolean;
  idleDelayMs: number;
}

export function readLensSettings(): LensSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    tokens: Math.max(1, Math.floor(c.get<number>('lens.tokens', 5))),
    threshold: c.get<number>('lens.threshold', 0.5),
    groups: Math.max(1, Math.floor(c.get<number>('score.groups', 4))),
    onIdle: c.get<boolean>('lens.onIdle', false),
    idleDelayMs: Math.max(200, c.get<number>('lens.idleDelay', 1500)),
  };
}

export interface LensMark {
  range: vscode.Range;
  score: TokenScore;
}

export interface LensRun {
  uri: string;
  version: number;
  result: ScoreResult;
  /** The scored function in the document. */
  region: vscode.Range;
  marks: LensMark[];
  trigger: 'command' | 'idle';
}

export class ConfidenceLens implements vscode.Disposable {
  private readonly underline = vscode.window.createTextEditorDecorationType({
    // The theme's warning colour, through the CSS variable VS Code defines for it.
    textDecoration: 'underline wavy var(--vscode-editorWarning-foreground)',
    overviewRulerColor: new vscode.ThemeColor('editorWarning.foreground'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  private run?: LensRun;
  private editor?: vscode.TextEditor;
  private inFlight?: AbortController;
  private idleTimer?: NodeJS.Timeout;
  /** Every finished lens run, newest last (for the tests and the log). */
  readonly runs: LensRun[] = [];
  /** Why lens requests were skipped (for the tests). */
  readonly skipped: string[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly engine: EngineService,
    private readonly controller: InfillController,
    private readonly refine: RefineController,
    private readonly log: Log,
    private readonly ui: Ui,
    private readonly settings: () => Settings,
  ) {
    this.subscriptions.push(
      vscode.languages.registerHoverProvider({ scheme: '*' }, { provideHover: (d, p) => this.hover(d, p) }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length === 0) {
          return;
        }
        if (this.run && e.document.uri.toString() === this.run.uri) {
          this.clear();
        }
        this.inFlight?.abort(); // its result would be stale
        this.scheduleIdle();
      }),
      vscode.window.onDidChangeTextEditorSelection(() => this.scheduleIdle()),
      vscode.window.onDidChangeActiveTextEditor(() => this.scheduleIdle()),
    );
  }

  get current(): LensRun | undefined {
    return this.run;
  }

  /** Why the lens cannot run now, or undefined. */
  private busyReason(): string | undefined {
    if (this.controller.current?.state === 'running') {
      return 'an infill is refining';
    }
    if (this.refine.current?.state === 'running') {
      return 'a refinement is running';
    }
    if (this.inFlight) {
      return 'a lens request is already running';
    }
    return undefined;
  }

  /** The lens command: the function around the cursor of the active editor. */
  async show(trigger: 'command' | 'idle' = 'command'): Promise<LensRun | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      if (trigger === 'command') {
        this.ui.error('the confidence lens needs an open text editor.');
      }
      return undefined;
    }
    const busy = this.busyReason();
    if (busy) {
      this.skipped.push(busy);
      if (trigger === 'command') {
        this.ui.info(`confidence lens not run: ${busy}. Try again when it is done.`);
      }
      return undefined;
    }
    const document = editor.document;
    try {
      checkDocument(document);
    } catch (err) {
      if (err instanceof RefusedError) {
        this.skipped.push(err.message);
        if (trigger === 'command') {
          this.ui.error(err.message);
        }
        return undefined;
      }
      throw err;
    }
    const version = document.version;
    const settings = this.settings();
    const lens = readLensSettings();
    const cursor = editor.selection.active;
    const context = regionContext(document, new vscode.Range(cursor, cursor));
    const abort = new AbortController();
    this.inFlight = abort;
    let result: ScoreResult;
    try {
      result = await this.engine.score(
        {
          prefix: context.prefix,
          text: '',
          suffix: context.suffix,
          languageId: document.languageId,
          groups: lens.groups,
          enclosingFunction: true,
          prefixBudget: settings.prefixTokens,
          suffixBudget: settings.suffixTokens,
        },
        abort.signal,
      );
    } catch (err) {
      if (isAbortError(err)) {
        this.skipped.push('the document changed while scoring');
        return undefined;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn(`confidence lens failed: ${message}`);
      if (trigger === 'command') {
        this.ui.error(`confidence lens failed: ${message}`, { 'Show Log': () => this.log.show() });
      }
      return undefined;
    } finally {
      if (this.inFlight === abort) {
        this.inFlight = undefined;
      }
    }
    if (document.isClosed || document.version !== version) {
      this.skipped.push('the document changed while scoring');
      return undefined;
    }
    const base = context.base + result.regionStart;
    const at = (offset: number) => document.positionAt(base + offset);
    const marks = lowest(result.tokens, lens.tokens, lens.threshold).map((score) => ({
      range: new vscode.Range(at(score.start), at(score.end)),
      score,
    }));
    const run: LensRun = {
      uri: document.uri.toString(),
      version,
      result,
      region: new vscode.Range(at(0), at(result.regionText.length)),
      marks,
      trigger,
    };
    this.clear();
    this.run = run;
    this.editor = editor;
    this.runs.push(run);
    if (this.runs.length > 50) {
      this.runs.shift();
    }
    editor.setDecorations(
      this.underline,
      marks.map((m) => ({ range: m.range })),
    );
    this.log.info(
      `confidence lens (${trigger}): ${result.tokens.length} tokens of ${result.notes.find((n) => n.startsWith('scope')) ?? 'the function'} scored in ${result.passes} passes, ${result.ms} ms; ${marks.length} underlined`,
    );
    if (trigger === 'command' && marks.length === 0) {
      this.ui.info(
        `the model finds every token of this function likely (all above ${formatProb(lens.threshold)}).`,
      );
    }
    return run;
  }

  clear(): void {
    this.editor?.setDecorations(this.underline, []);
    this.editor = undefined;
    this.run = undefined;
  }

  private hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const run = this.run;
    if (!run || run.uri !== document.uri.toString() || run.version !== document.version) {
      return undefined;
    }
    const mark = run.marks.find((m) => m.range.contains(position));
    if (!mark) {
      return undefined;
    }
    return new vscode.Hover(describeMark(mark.score, run.result), mark.range);
  }

  /** On-idle mode: after the cursor rests, score the function around it (skipped when busy). */
  private scheduleIdle(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    const lens = readLensSettings();
    if (!lens.onIdle) {
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const editor = vscode.window.activeTextEditor;
      const cursor = editor?.selection.active;
      const run = this.run;
      // The function already shown for this version: nothing new to say.
      if (
        run &&
        editor &&
        cursor &&
        run.uri === editor.document.uri.toString() &&
        run.version === editor.document.version &&
        run.region.contains(cursor)
      ) {
        return;
      }
      void this.show('idle');
    }, lens.idleDelayMs);
  }

  dispose(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
    }
    this.inFlight?.abort();
    this.clear();
    this.underline.dispose();
    this.subscriptions.forEach((d) => d.dispose());
  }
}

/** The `count` least likely non-whitespace tokens scoring below `threshold`, in document order. */
export function lowest(tokens: readonly TokenScore[], count: number, threshold: number): TokenScore[] {
  return tokens
    .filter((t) => t.text.trim().length > 0 && t.prob < threshold)
    .sort((a, b) => a.prob - b.prob || a.start - b.start)
    .slice(0, count)
    .sort((a, b) => a.start - b.start);
}

function describeMark(score: TokenScore, result: ScoreResult): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  const p = score.exact
    ? `p = ${formatProb(score.prob)} (rank ${score.rank + 1})`
    : `p ≤ ${formatProb(score.prob)} (not in the model's top ${score.alternatives.length})`;
  md.appendMarkdown(`**Diffusion Infill confidence lens** — \`${code(score.text)}\` ${p}\n\n`);
  md.appendMarkdown('Model alternatives:\n\n');
  for (const alt of score.alternatives) {
    md.appendMarkdown(`- \`${code(alt.text)}\` ${formatProb(alt.prob)}\n`);
  }
  md.appendMarkdown(
    `\n_${result.tokens.length} tokens scored in ${result.passes} forward passes (pseudo-likelihood, ${result.groups} interleaved groups)._`,
  );
  return md;
}

/** Token text readable inside inline code: visible whitespace, no backticks. */
function code(text: string): string {
  return text.replace(/`/g, "'").replace(/\n/g, '⏎').replace(/\t/g, '→').replace(/ /g, '·') || '∅';
}
