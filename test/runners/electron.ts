// `npm run test:vscode`: the same in-host suite (out/test/suite/index.js) in desktop VS Code through
// @vscode/test-electron. Set VSCODE_EXECUTABLE to an installed VS Code (e.g. /usr/share/code/code or
// ".../Visual Studio Code.app/Contents/MacOS/Electron") to skip the download; without it
// test-electron downloads VS Code stable into .vscode-test/ (needs network access).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..', '..', '..');
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'di-vscode-ws-'));
  fs.cpSync(path.join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
  const executable = process.env.VSCODE_EXECUTABLE || process.env.VSCODE_EXECUTABLE_PATH;
  try {
    await runTests({
      vscodeExecutablePath: executable || undefined,
      version: executable ? undefined : process.env.VSCODE_VERSION || 'stable',
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(root, 'out', 'test', 'suite', 'index.js'),
      // DI_TEST_HOOKS=1: activate() returns its test hooks only then (see src/extension.ts).
      extensionTestsEnv: { DI_WORKSPACE: workspace, DI_TEST_HOOKS: '1' },
      launchArgs: [
        workspace,
        '--disable-extensions',
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
      ],
    });
    return 0;
  } catch (err) {
    console.error(`test:vscode failed: ${err instanceof Error ? err.message : String(err)}`);
    if (!executable) {
      console.error(
        '(no VSCODE_EXECUTABLE set: test-electron tried to download VS Code; set it to use an installed one)',
      );
    }
    return 1;
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
