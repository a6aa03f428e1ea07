/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Page helpers for the code-server workbench: open it (installed extensions only), open a file, run
// palette commands, read the editor, the ghost text, notification toasts and the Output panel back
// from the DOM.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { env, workbenchUrl } from '../runners/browser';

export async function openWorkbench(page: Page): Promise<void> {
  // No extension development path: the workbench runs the extensions installed from VSIX files
  // (test/runners/code-server.sh e2e), as a user's does.
  await page.goto(workbenchUrl({ serverUrl: env('DI_CODE_SERVER_URL'), folder: env('DI_WORKSPACE') }));
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  // The extension activates on its commands: nothing of it is on screen before the first one.
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60_000 });
}

export async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget:visible input');
  await page.keyboard.type(name);
  await page.waitForSelector(`.quick-input-list .monaco-list-row:has-text("${name}")`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tab.active:has-text("${name}")`);
  await page.waitForSelector('.monaco-editor .view-lines .view-line');
  await page.click('.monaco-editor .view-lines');
}

export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget:visible input');
  await page.keyboard.type(title);
  await page.waitForSelector(`.quick-input-list .monaco-list-row:has-text("${title}")`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
}

export async function goToLine(page: Page, line: number): Promise<void> {
  await page.keyboard.press('Control+G');
  await page.waitForSelector('.quick-input-widget:visible input');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  await page.waitForSelector('.quick-input-widget', { state: 'hidden' });
}

/**
 * The buffer's visible lines, top to bottom (spaces normalised). The first line of any ghost text
 * is drawn inside its view line as injected text; it is left out, so that a suggestion shown after
 * an accept (another inline provider answering at the new cursor) is not read as buffer text.
 */
export function editorLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const lines = [
      ...document.querySelectorAll<HTMLElement>('.editor-instance .monaco-editor .view-lines .view-line'),
    ];
    const bufferText = (el: HTMLElement): string => {
      const copy = el.cloneNode(true) as HTMLElement;
      copy.querySelectorAll('[class*="ghost-text"], .suggest-preview-text').forEach((g) => g.remove());
      return copy.textContent ?? '';
    };
    return lines
      .map((el) => ({
        top: parseFloat(el.style.top || '0'),
        text: bufferText(el).replace(/\u00a0/g, ' '),
      }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text);
  });
}

/** Reads the ghost text on screen: the first line inline, further lines in a view zone. Runs in the page. */
function readGhostText(): string {
  const root = document.querySelector('.editor-instance .monaco-editor');
  if (!root) {
    return '';
  }
  const first = [...root.querySelectorAll<HTMLElement>('.ghost-text-decoration')].map(
    (e) => e.textContent ?? '',
  );
  const rest = [
    ...root.querySelectorAll<HTMLElement>('.view-zones .ghost-text, .view-zones .suggest-preview-text'),
  ]
    .map((e) => e.closest<HTMLElement>('.view-line'))
    .filter((e): e is HTMLElement => !!e)
    .filter((e, i, all) => all.indexOf(e) === i)
    .map((e) => e.textContent ?? '');
  return [first.join(''), ...rest].join('\n').replace(/\u00a0/g, ' ');
}

export function ghostText(page: Page): Promise<string> {
  return page.evaluate(readGhostText);
}

/**
 * Records every distinct ghost text the page renders (a MutationObserver in the page, so no frame
 * is missed between two polls). Returns a function that reads the frames recorded so far.
 */
export async function recordGhostText(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(`(() => {
    const read = ${readGhostText.toString()};
    const w = window;
    w.__diFrames = [];
    let last = '';
    w.__diObserver?.disconnect();
    w.__diObserver = new MutationObserver(() => {
      const text = read();
      if (text !== last) {
        last = text;
        if (text) w.__diFrames.push(text);
      }
    });
    w.__diObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
  })()`);
  return () => page.evaluate('window.__diFrames.slice()') as Promise<string[]>;
}

export function statusText(page: Page): Promise<string> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.statusbar-item')]
      .map((e) => e.textContent ?? '')
      .filter((t) => t.includes('Diffusion'))
      .join(' | '),
  );
}

/** Whether the active tab shows the unsaved-changes marker. */
export async function isDirty(page: Page): Promise<boolean> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.tabs-container .tab.active')].some((t) =>
      t.classList.contains('dirty'),
    ),
  );
}

export async function waitForDirty(page: Page, dirty: boolean, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    (want) =>
      [...document.querySelectorAll<HTMLElement>('.tabs-container .tab.active')].some((t) =>
        t.classList.contains('dirty'),
      ) === want,
    dirty,
    { timeout },
  );
}

/** Number of editor text spans drawn struck through (the region marked as to-be-replaced). */
export function struckSpans(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      [
        ...document.querySelectorAll<HTMLElement>(
          '.editor-instance .monaco-editor .view-lines .view-line span span',
        ),
      ].filter((e) => getComputedStyle(e).textDecorationLine.includes('line-through')).length,
  );
}

/** Selects lines first..last (1-based, whole lines) with the keyboard. */
export async function selectWholeLines(page: Page, first: number, last: number): Promise<void> {
  await goToLine(page, first);
  await page.keyboard.press('Home');
  await page.keyboard.press('Home'); // first Home goes to the indentation, the second to column 1
  for (let i = first; i <= last; i++) {
    await page.keyboard.press('Shift+ArrowDown');
  }
}

/** Waits until the status bar item matches; fails at once if it shows an error. */
export async function waitForStatus(page: Page, pattern: RegExp, timeout = 120_000): Promise<string> {
  const deadline = Date.now() + timeout;
  // An error left from an earlier request counts only once the status has moved on (or after 5 s).
  const initial = await statusText(page);
  const since = Date.now();
  for (;;) {
    const status = await statusText(page);
    if (pattern.test(status)) {
      return status;
    }
    const stale = status === initial && Date.now() - since < 5000;
    if ((/error/i.test(status) && !stale) || Date.now() > deadline) {
      throw new Error(`status bar "${status}" while waiting for ${pattern}`);
    }
    await page.waitForTimeout(20);
  }
}

/** Clicks into the text of the editor area's active editor (not the Output panel's). */
export async function focusEditor(page: Page): Promise<void> {
  await page.click('.editor-instance .monaco-editor .view-lines');
}

/** Merges values into the code-server user ('User') or remote machine ('Machine') settings file. */
export function mergeSettings(scope: 'User' | 'Machine', values: Record<string, unknown>): void {
  const file = path.join(env('DI_USER_DATA'), scope, 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const current = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) {
      delete current[key];
    } else {
      current[key] = value;
    }
  }
  fs.writeFileSync(file, JSON.stringify(current, null, 2));
}

export interface Toast {
  message: string;
  buttons: string[];
}

/** The notification toasts on screen (what a user sees pop up at the bottom right). */
export function toasts(page: Page): Promise<Toast[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.notifications-toasts .notification-toast')].map((t) => ({
      message: (t.querySelector('.notification-list-item-message')?.textContent ?? '').replace(
        /\u00a0/g,
        ' ',
      ),
      buttons: [
        ...t.querySelectorAll<HTMLElement>('.notification-list-item-buttons-container .monaco-button'),
      ].map((b) => b.textContent ?? ''),
    })),
  );
}

/** Waits for a toast whose message matches; fails with the toasts that were shown instead. */
export async function waitForToast(page: Page, pattern: RegExp, timeout = 60_000): Promise<Toast> {
  const deadline = Date.now() + timeout;
  let seen: Toast[] = [];
  for (;;) {
    seen = await toasts(page);
    const found = seen.find((t) => pattern.test(t.message));
    if (found) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`no notification matching ${pattern}; on screen: ${JSON.stringify(seen)}`);
    }
    await page.waitForTimeout(100);
  }
}

export async function clearNotifications(page: Page): Promise<void> {
  await runCommand(page, 'Notifications: Clear All Notifications');
  await page.waitForFunction(
    () => document.querySelectorAll('.notifications-toasts .notification-toast').length === 0,
  );
}

/** Text of the Output panel's editor (the lines it renders; it scrolls to the end as lines arrive). */
export function outputPanelText(page: Page): Promise<string> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.part.panel .monaco-editor .view-lines .view-line')]
      .map((el) => ({
        top: parseFloat(el.style.top || '0'),
        text: (el.textContent ?? '').replace(/\u00a0/g, ' '),
      }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text)
      .join('\n'),
  );
}

/** The placeholder glyph of a masked position (the `preview.placeholder` default). */
export const PLACEHOLDER = '▓';

/**
 * Runs Infill Selection on the whole lines first..last and returns the final frame once it is shown
 * (no placeholder left in the ghost text).
 */
export async function showFinalPreview(page: Page, first: number, last: number): Promise<string> {
  await focusEditor(page);
  await selectWholeLines(page, first, last);
  await runCommand(page, 'Diffusion Infill: Infill Selection');
  await waitForStatus(page, /Tab accept/);
  for (let i = 0; i < 100 && (await ghostText(page)).includes(PLACEHOLDER); i++) {
    await page.waitForTimeout(50);
  }
  await page.waitForTimeout(200);
  const final = await ghostText(page);
  if (final.includes(PLACEHOLDER)) {
    throw new Error(`final frame without masks expected: ${JSON.stringify(final)}`);
  }
  return final;
}

/** Lines without trailing whitespace (the DOM cannot tell trailing spaces from none). */
export function normalise(lines: string[]): string[] {
  return lines.map((l) => l.replace(/\s+$/, ''));
}

/** Waits (up to 5 s) until the buffer reads `text`, line by line without trailing whitespace; fails if not. */
export async function expectBuffer(page: Page, text: string, message = 'buffer'): Promise<void> {
  const expected = JSON.stringify(normalise(text.split('\n')));
  let lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    lines = normalise(await editorLines(page));
    if (JSON.stringify(lines) === expected) {
      return;
    }
    await page.waitForTimeout(25);
  }
  assert.strictEqual(JSON.stringify(lines), expected, `${message}:\n${lines.join('\n')}`);
}
