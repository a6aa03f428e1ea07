/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Page helpers for the code-server workbench: open it with the extension under development, open a
// file, run palette commands, and read the editor and the ghost text back from the DOM.
import type { Page } from 'playwright-core';
import { env, workbenchUrl } from '../runners/browser';

export async function openWorkbench(page: Page): Promise<void> {
  await page.goto(
    workbenchUrl({
      serverUrl: env('DI_CODE_SERVER_URL'),
      folder: env('DI_WORKSPACE'),
      extensionRoot: env('DI_EXTENSION_ROOT'),
    }),
  );
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  // The extension activates on startup finished and puts its item in the status bar.
  await page.waitForSelector('.statusbar-item:has-text("Diffusion")', { timeout: 60_000 });
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

/** The editor's visible lines, top to bottom (spaces normalised). */
export function editorLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const lines = [
      ...document.querySelectorAll<HTMLElement>('.editor-instance .monaco-editor .view-lines .view-line'),
    ];
    return lines
      .map((el) => ({
        top: parseFloat(el.style.top || '0'),
        text: (el.textContent ?? '').replace(/\u00a0/g, ' '),
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
