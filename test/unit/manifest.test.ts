// Manifest and tokenizer validation: each broken model folder gives the right error code and a message
// naming the file and the field.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/engine/errors';
import { loadManifest } from '../../src/engine/manifest';
import { CodeTokenizer } from '../../src/engine/tokenizer';
import { tempDir, writeTestModel } from './helpers';

function loadError(dir: string): EngineError {
  try {
    CodeTokenizer.forManifest(loadManifest(dir));
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected EngineError, got ${String(err)}`);
    return err;
  }
  assert.fail('model loaded although it is broken');
}

function expectError(dir: string, code: string, ...mentions: string[]): void {
  const err = loadError(dir);
  assert.equal(err.code, code, err.message);
  for (const m of mentions) {
    assert.ok(err.message.includes(m), `"${err.message}" should mention ${m}`);
  }
}

describe('manifest validation', () => {
  it('a valid test model loads', () => {
    const dir = writeTestModel();
    const manifest = loadManifest(dir);
    assert.equal(manifest.logitShift, 'none');
    assert.equal(manifest.onnxPath, path.join(dir, 'model.onnx'));
    assert.equal(CodeTokenizer.forManifest(manifest).vocabSize, manifest.vocabSize);
  });

  it('missing folder and missing model.json -> model-missing', () => {
    expectError(path.join(tempDir('gone'), 'nope'), 'model-missing', 'nope');
    expectError(tempDir('empty'), 'model-missing', 'model.json');
  });

  it('invalid JSON -> model-invalid naming the file', () => {
    const dir = writeTestModel();
    fs.writeFileSync(path.join(dir, 'model.json'), '{ nope');
    expectError(dir, 'model-invalid', 'model.json');
  });

  it('missing onnx file -> model-missing naming the field and the file', () => {
    expectError(
      writeTestModel((m) => (m.onnx = 'missing.onnx')),
      'model-missing',
      '"onnx"',
      'missing.onnx',
    );
    expectError(
      writeTestModel((m) => (m.onnx_full_logits = 'logits.onnx')),
      'model-missing',
      '"onnx_full_logits"',
      'logits.onnx',
    );
  });

  it('missing tokenizer file -> model-missing', () => {
    expectError(
      writeTestModel((m) => (m.tokenizer = 'tok.json')),
      'model-missing',
      '"tokenizer"',
      'tok.json',
    );
  });

  it('vocab size mismatch -> tokenizer-mismatch naming tokenizer.json and vocab_size', () => {
    expectError(
      writeTestModel((m) => (m.vocab_size = (m.vocab_size as number) + 1)),
      'tokenizer-mismatch',
      'tokenizer.json',
      'vocab_size',
    );
  });

  it('missing special token -> model-invalid naming special_tokens.<role>', () => {
    for (const role of ['mask', 'pad', 'end']) {
      expectError(
        writeTestModel((m) => delete (m.special_tokens as Record<string, number>)[role]),
        'model-invalid',
        'model.json',
        `special_tokens.${role}`,
      );
    }
  });

  it('special token id absent from the tokenizer -> tokenizer-mismatch', () => {
    // Shrink the claimed vocabulary so the id is "in range" for the manifest but not in tokenizer.json.
    const dir = writeTestModel((m) => {
      (m.special_tokens as Record<string, number>).eos = 5000;
      m.vocab_size = 6000;
    });
    const err = loadError(dir);
    assert.equal(err.code, 'tokenizer-mismatch');
    const dir2 = writeTestModel((m) => ((m.special_tokens as Record<string, number>).bos = 100000));
    expectError(dir2, 'model-invalid', 'special_tokens.bos');
  });

  it('unknown output_kind / logit_shift / format -> model-invalid naming the field', () => {
    expectError(
      writeTestModel((m) => (m.output_kind = 'hidden_states')),
      'model-invalid',
      '"output_kind"',
      'hidden_states',
    );
    expectError(
      writeTestModel((m) => (m.logit_shift = 'left')),
      'model-invalid',
      '"logit_shift"',
      'left',
    );
    expectError(
      writeTestModel((m) => (m.format = 'other/2')),
      'model-invalid',
      '"format"',
    );
  });

  it('bad numbers -> model-invalid', () => {
    expectError(
      writeTestModel((m) => (m.max_length = 0)),
      'model-invalid',
      '"max_length"',
    );
    expectError(
      writeTestModel((m) => delete m.top_k),
      'model-invalid',
      '"top_k"',
    );
  });

  it('unknown keys are ignored; full_logits needs no top_k', () => {
    const dir = writeTestModel((m) => {
      m.output_kind = 'full_logits';
      delete m.top_k;
      m.something_new = { x: 1 };
    });
    assert.equal(loadManifest(dir).outputKind, 'full_logits');
  });
});
