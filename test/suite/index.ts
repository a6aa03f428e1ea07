// Entry point of the in-host suite, in the shape @vscode/test-electron expects: run() loads every
// *.test.js next to this file into mocha and resolves when they pass. It ends with the line
// "N passed, N failed" that the runners pick up, after "in-host suite: N skipped" (pending tests,
// counted apart by scripts/test-all.sh). Zero tests run is a failure: a grep that matches nothing
// must not pass.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

const LAST = 'deactivate.test.js';

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    color: false,
    timeout: 120_000,
    reporter: 'spec',
    grep: process.env.DI_SUITE_GREP || undefined,
  });
  // deactivate.test.js stops the extension's engine for good: it runs last.
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort((x, y) => Number(x === LAST) - Number(y === LAST) || x.localeCompare(y));
  for (const file of files) {
    mocha.addFile(path.join(__dirname, file));
  }
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const passed = runner.stats?.passes ?? 0;
        const failed = runner.stats?.failures ?? failures;
        console.log(`in-host suite: ${runner.stats?.pending ?? 0} skipped`);
        console.log(`${passed} passed, ${failed} failed`);
        if (failures > 0) {
          reject(new Error(`${failures} in-host tests failed`));
        } else if (passed === 0) {
          reject(new Error('no in-host test ran'));
        } else {
          resolve();
        }
      });
    } catch (err) {
      console.log('0 passed, 1 failed');
      reject(err);
    }
  });
}
