// Shared helpers for the code-server runners: launch Debian chromium through playwright-core and
// build workbench URLs (folder, and for the in-host suite the `payload` parameter the web workbench
// reads for extension development and extension tests).
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run through test/runners/code-server.sh`);
  }
  return value;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

export interface WorkbenchUrlOptions {
  serverUrl: string;
  folder: string;
  /** The extension under development (loaded from this folder); omitted: installed extensions only. */
  extensionRoot?: string;
  /** Absolute path of the compiled suite entry (test/suite/index.js) to run in the extension host. */
  testsPath?: string;
  extensionEnvironment?: Record<string, string>;
}

export function workbenchUrl(o: WorkbenchUrlOptions): string {
  const authority = new URL(o.serverUrl).host;
  const remote = (p: string) => `vscode-remote://${authority}${p}`;
  const payload: [string, string][] = [];
  if (o.extensionRoot) {
    payload.push(['extensionDevelopmentPath', remote(o.extensionRoot)]);
  }
  if (o.testsPath) {
    payload.push(['extensionTestsPath', remote(o.testsPath)]);
  }
  if (o.extensionEnvironment) {
    payload.push(['extensionEnvironment', JSON.stringify(o.extensionEnvironment)]);
  }
  const params = new URLSearchParams({ folder: o.folder });
  if (payload.length > 0) {
    params.set('payload', JSON.stringify(payload));
  }
  return `${o.serverUrl}/?${params.toString()}`;
}
