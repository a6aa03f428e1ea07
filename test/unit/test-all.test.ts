// scripts/test-all.sh counts honestly: sourced with fake stages (tiny commands that print what a
// real runner would), a stage that ran zero tests fails, skipped tests are counted apart from
// passed ones for node, python (pytest and unittest) and the mocha runners, a crash without a
// parsable count fails, and a stage not run is listed in the summary.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './helpers';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'test-all.sh');

/** Sources the script, runs `body` (bash), returns stdout. */
function bash(body: string): string {
  const r = spawnSync('bash', ['-c', `source ${JSON.stringify(SCRIPT)}\n${body}`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** A fake stage: prints `lines` and exits with `rc`. */
function fake(lines: string[], rc = 0): string {
  return `bash -c ${JSON.stringify(`printf '%s\\n' ${lines.map((l) => JSON.stringify(l)).join(' ')}; exit ${rc}`)}`;
}

function recorded(out: string, stage: string): string {
  const line = out
    .split('\n')
    .filter((l) => l.startsWith(`${stage}: `) && /passed/.test(l))
    .at(-1);
  assert.ok(line, `no count line for ${stage} in:\n${out}`);
  return line;
}

describe('scripts/test-all.sh counting (fake stages)', () => {
  it('node: a stage that ran zero tests fails, even with exit status 0', () => {
    const out = bash(`counted unit parse_node ${fake(['# pass 0', '# fail 0', '# skipped 0'])}`);
    assert.equal(recorded(out, 'unit'), 'unit: 0 passed, 1 failed, 0 skipped');
    assert.match(out, /ran zero tests/);
  });

  it('node: skipped tests are counted and printed, not counted as passed', () => {
    const out = bash(`counted unit parse_node ${fake(['# pass 3', '# fail 0', '# skipped 2'])}`);
    assert.equal(recorded(out, 'unit'), 'unit: 3 passed, 0 failed, 2 skipped');
  });

  it('node: a stage whose tests all skipped fails (zero ran)', () => {
    const out = bash(`counted unit parse_node ${fake(['ℹ pass 0', 'ℹ fail 0', 'ℹ skipped 4'])}`);
    assert.equal(recorded(out, 'unit'), 'unit: 0 passed, 1 failed, 4 skipped');
  });

  it('python unittest: skips are taken out of "Ran N tests"', () => {
    const out = bash(`counted python parse_python ${fake(['Ran 5 tests in 0.1s', '', 'OK (skipped=2)'])}`);
    assert.equal(recorded(out, 'python'), 'python: 3 passed, 0 failed, 2 skipped');
  });

  it('python unittest: failures, errors and skips together', () => {
    const out = bash(
      `counted python parse_python ${fake(['Ran 6 tests in 0.1s', 'FAILED (failures=1, errors=1, skipped=1)'], 1)}`,
    );
    assert.equal(recorded(out, 'python'), 'python: 3 passed, 2 failed, 1 skipped');
  });

  it('python pytest: "N passed, N skipped in Xs"', () => {
    const out = bash(`counted python parse_python ${fake(['==== 2 passed, 1 skipped in 0.12s ===='])}`);
    assert.equal(recorded(out, 'python'), 'python: 2 passed, 0 failed, 1 skipped');
  });

  it('python: "Ran 0 tests" with OK fails', () => {
    const out = bash(`counted python parse_python ${fake(['Ran 0 tests in 0.000s', '', 'OK'])}`);
    assert.equal(recorded(out, 'python'), 'python: 0 passed, 1 failed, 0 skipped');
  });

  it('mocha runners: passed, failed and skipped from the in-host and e2e lines', () => {
    const out = bash(
      `counted vscode parse_runner ${fake(
        [
          'in-host suite: 20 passed, 0 failed',
          'in-host suite: 1 skipped',
          'e2e: 5 passed, 1 failed',
          'e2e: 2 skipped',
        ],
        1,
      )}`,
    );
    assert.equal(recorded(out, 'vscode'), 'vscode: 25 passed, 1 failed, 3 skipped');
  });

  it('a crash without a parsable count is one failure', () => {
    const out = bash(`counted unit parse_node ${fake(['Segmentation fault'], 139)}`);
    assert.equal(recorded(out, 'unit'), 'unit: 0 passed, 1 failed, 0 skipped');
  });

  it('a stage not run is listed in the summary; the last line stays "N passed, N failed"', () => {
    const out = bash(
      [
        `counted unit parse_node ${fake(['# pass 2', '# fail 0', '# skipped 1'])}`,
        'skip_stage vscode "DI_SKIP_VSCODE=1: the in-host suite and the browser e2e tests"',
        'summary',
      ].join('\n'),
    );
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.at(-1), '2 passed, 0 failed');
    assert.equal(
      lines.at(-2),
      '1 tests skipped; 1 stages not run: vscode (DI_SKIP_VSCODE=1: the in-host suite and the browser e2e tests)',
    );
    assert.ok(
      lines.includes(
        '  vscode: SKIPPED, not run (DI_SKIP_VSCODE=1: the in-host suite and the browser e2e tests)',
      ),
    );
  });
});
