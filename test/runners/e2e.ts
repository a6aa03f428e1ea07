// Runs the browser end-to-end tests (out/test/e2e/*.e2e.js) with mocha in this Node process; they
// drive the code-server workbench started by test/runners/code-server.sh through playwright-core.
// Prints "e2e: N passed, N failed".
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

const dir = path.join(__dirname, '..', 'e2e');
const mocha = new Mocha({
  ui: 'bdd',
  color: false,
  timeout: 180_000,
  reporter: 'spec',
  grep: process.env.DI_E2E_GREP || undefined,
});
for (const file of fs.readdirSync(dir).sort()) {
  if (file.endsWith('.e2e.js')) {
    mocha.addFile(path.join(dir, file));
  }
}
const runner = mocha.run((failures) => {
  const passed = runner.stats?.passes ?? 0;
  const failed = runner.stats?.failures ?? failures;
  console.log(`e2e: ${runner.stats?.pending ?? 0} skipped`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  // Zero tests run (a grep that matches nothing) is a failure, not a pass.
  process.exitCode = failures > 0 || passed === 0 ? 1 : 0;
});
