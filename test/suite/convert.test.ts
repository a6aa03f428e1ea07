// In-host: "Diffusion Infill: Convert Model…" converts a tiny Qwen3 A2D checkpoint (written by
// models/export/tiny.py with the host's python3) and loads the result; a block-diffusion checkpoint ends in
// its own message with nothing written. Needs python3 with torch + onnx (DI_PYTHON overrides); skips without.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TestHooks } from '../../src/extension';
import type { ConversionOutcome } from '../../src/vscode/convertProcess';
import { checkPython } from '../../src/vscode/convertProcess';
import { api, extensionPath, resetSettings, scratchDir, setSetting } from './helpers';

const PYTHON = process.env.DI_PYTHON || '/usr/bin/python3';

/** Async (execFile): a synchronous spawn would block the extension host while python imports torch. */
function tinyCheckpoint(name: string): Promise<string> {
  const dir = path.join(scratchDir(), name);
  const script = 'import sys; from models.export import tiny; tiny.write_qwen3(sys.argv[1])';
  return new Promise((resolve, reject) =>
    execFile(PYTHON, ['-c', script, dir], { cwd: extensionPath() }, (err, _out, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(dir),
    ),
  );
}

describe('Convert Model command', function () {
  this.timeout(180_000);
  let a: TestHooks;

  before(async function () {
    if (!(await checkPython(PYTHON)).ok) {
      this.skip();
    }
    a = await api();
    await setSetting('convert.python', PYTHON);
  });

  after(async () => {
    await resetSettings(['convert.python', 'model.folder']);
  });

  it('converts a checkpoint to int4 and uses the result', async () => {
    const ckpt = await tinyCheckpoint('Qwen3-tiny-diffusion-mdlm');
    const out = `${ckpt}-onnx-int4`;
    const outcome = await vscode.commands.executeCommand<ConversionOutcome>('diffusionInfill.convertModel', {
      checkpoint: ckpt,
      out,
      dtype: 'int4',
      use: true,
    });
    assert.deepStrictEqual(outcome, { kind: 'ok', out });
    assert.ok(fs.existsSync(path.join(out, 'model.json')));
    assert.strictEqual(vscode.workspace.getConfiguration('diffusionInfill').get('model.folder'), out);
    assert.strictEqual(a.engine.model?.name, 'Qwen3-tiny-diffusion-mdlm');
    assert.ok(a.log.entries.some((e) => e.message.includes(`Convert Model: wrote ${out}`)));
  });

  it('a block-diffusion checkpoint is refused with its own message and nothing written', async () => {
    const ckpt = await tinyCheckpoint('Qwen3-0.6B-diffusion-bd3lm-v0.1');
    const before = a.ui.messages.length;
    const outcome = await vscode.commands.executeCommand<ConversionOutcome>('diffusionInfill.convertModel', {
      checkpoint: ckpt,
      out: `${ckpt}-onnx-int4`,
      dtype: 'int4',
      use: true,
    });
    assert.strictEqual(outcome.kind, 'failed');
    const shown = a.ui.messages.slice(before).map((m) => m.message);
    assert.ok(
      shown.some((m) => m.startsWith('Block-diffusion model: it cannot see the text after the hole')),
      shown.join('\n'),
    );
    assert.ok(
      !fs
        .readdirSync(scratchDir())
        .some((e) => e.startsWith('Qwen3-0.6B-diffusion-bd3lm-v0.1-onnx') || e.includes('.partial-')),
    );
  });
});
