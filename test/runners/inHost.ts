// Runs the in-host mocha suite (out/test/suite/index.js) inside code-server's real extension host.
// The workbench is opened with extensionTestsPath in its `payload`; with the smoke-test driver on, it
// forwards the host's console to window.codeAutomationLog and calls window.codeAutomationExit(code)
// when run() settles. Prints "in-host suite: N passed, N failed".
import * as fs from 'fs';
import * as path from 'path';
import { format } from 'util';
import { env, launchBrowser, workbenchUrl } from './browser';

/** Workbench chatter forwarded with the host's console (offline gallery, auth, service worker). */
const NOISE = [
  /ENOTFOUND/,
  /AccountPolicyGate/,
  /Service Worker/,
  /authentication provider/,
  /AgentHost/,
  /took \d+ms/,
  /Creating a socket/,
];

const TIMEOUT_MS = Number(process.env.DI_SUITE_TIMEOUT_MS ?? 15 * 60_000);

async function main(): Promise<number> {
  const root = env('DI_EXTENSION_ROOT');
  const artifacts = env('DI_ARTIFACTS');
  const url = workbenchUrl({
    serverUrl: env('DI_CODE_SERVER_URL'),
    folder: env('DI_WORKSPACE'),
    extensionRoot: root,
    testsPath: path.join(root, 'out', 'test', 'suite', 'index.js'),
    extensionEnvironment: {
      DI_WORKSPACE: env('DI_WORKSPACE'),
      DI_SUITE_GREP: process.env.DI_SUITE_GREP ?? '',
      DI_TEST_MODEL: process.env.DI_TEST_MODEL ?? '',
      // activate() returns its test hooks only with this (never in a user's extension host).
      DI_TEST_HOOKS: '1',
      DI_SOAK_OPS: process.env.DI_SOAK_OPS ?? '',
      DI_SOAK_SEED: process.env.DI_SOAK_SEED ?? '',
    },
  });
  const browser = await launchBrowser();
  let summary: string | undefined;
  const transcript: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    await page.exposeFunction('codeAutomationLog', (_level: string, args: unknown) => {
      const text = Array.isArray(args) ? format(...(args as unknown[])) : String(args);
      const noisy = NOISE.some((re) => re.test(text));
      for (const line of text.split('\n')) {
        transcript.push(line);
        const m = /^(\d+) passed, (\d+) failed$/.exec(line.trim());
        if (m) {
          summary = `in-host suite: ${m[1]} passed, ${m[2]} failed`;
        } else if (!noisy) {
          console.log(line);
        }
      }
    });
    await page.goto(url);
    const timeout = new Promise<number>((resolve) =>
      setTimeout(() => {
        console.error(`in-host suite: no result after ${TIMEOUT_MS} ms`);
        resolve(-1);
      }, TIMEOUT_MS).unref(),
    );
    const code = await Promise.race([exited, timeout]);
    if (code !== 0) {
      fs.mkdirSync(artifacts, { recursive: true });
      await page
        .screenshot({ path: path.join(artifacts, 'in-host-suite-failure.png') })
        .catch(() => undefined);
    }
    fs.mkdirSync(artifacts, { recursive: true });
    fs.writeFileSync(path.join(artifacts, 'in-host-suite.log'), transcript.join('\n') + '\n');
    console.log(summary ?? 'in-host suite: 0 passed, 1 failed');
    return code === 0 && summary !== undefined ? 0 : 1;
  } finally {
    await browser.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    console.log('in-host suite: 0 passed, 1 failed');
    process.exit(1);
  },
);
