// Shared test helpers: locations of the fixture model, temp model folders and a tiny byte-level BPE
// tokenizer.json for tests that need a real tokenizer but not a real model.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RowPrediction } from '../../src/engine/topk';

/** Repository root (tests run from out/test/unit). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** models/fixture; DI_FIXTURE_DIR points the tests at another model folder (developing a new model). */
export const FIXTURE_DIR = process.env.DI_FIXTURE_DIR ?? path.join(REPO_ROOT, 'models', 'fixture');
export const ENGINE_ENTRY = path.join(REPO_ROOT, 'out', 'src', 'engine', 'process', 'main.js');
export const CLI_ENTRY = path.join(REPO_ROOT, 'out', 'src', 'cli.js');

/**
 * The fixture model is part of the repository; a test that needs it fails when it is absent, unless
 * DI_ALLOW_MISSING_FIXTURE=1 (while the model is being built) turns those tests into skips.
 */
export function fixtureSkip(): string | false {
  if (fs.existsSync(path.join(FIXTURE_DIR, 'model.json'))) {
    return false;
  }
  if (process.env.DI_ALLOW_MISSING_FIXTURE === '1') {
    return 'models/fixture is missing';
  }
  return false; // let the test run and fail on the missing model
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `di-${prefix}-`));
}

/** Copies the fixture model into a temp folder so a test can edit its manifest. */
export function copyFixture(edit?: (manifest: Record<string, unknown>) => void): string {
  const dir = tempDir('fixture');
  for (const name of fs.readdirSync(FIXTURE_DIR)) {
    const src = path.join(FIXTURE_DIR, name);
    if (fs.statSync(src).isFile()) {
      fs.symlinkSync(src, path.join(dir, name));
    }
  }
  if (edit) {
    const file = path.join(dir, 'model.json');
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.unlinkSync(file);
    edit(manifest);
    fs.writeFileSync(file, JSON.stringify(manifest, null, 1));
  }
  return dir;
}

export const TEST_SPECIALS = ['<|mask|>', '<|pad|>', '<|end|>', '<|bos|>'] as const;

/** The GPT-2 byte -> unicode table used by byte-level BPE. */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

/** A byte-level BPE tokenizer.json: 256 byte tokens, a few merges, then the 4 special tokens. */
export function testTokenizerJson(): { json: object; vocabSize: number; ids: Record<string, number> } {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[b2u.get(b)!] = b;
  const merges: string[] = [];
  const add = (a: string, b: string) => {
    merges.push(`${a} ${b}`);
    if (vocab[a + b] === undefined) vocab[a + b] = Object.keys(vocab).length;
  };
  const sp = b2u.get(32)!;
  add(sp, sp);
  add(sp + sp, sp + sp);
  add('r', 'e');
  add('re', 't');
  add('d', 'e');
  add('de', 'f');
  const ids: Record<string, number> = {};
  const added = TEST_SPECIALS.map((content) => {
    const id = Object.keys(vocab).length;
    vocab[content] = id;
    ids[content] = id;
    return {
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return { json, vocabSize: Object.keys(vocab).length, ids };
}

/** A model folder with a valid manifest and tokenizer and placeholder ONNX files (not loadable). */
export function writeTestModel(edit?: (manifest: Record<string, unknown>) => void): string {
  const dir = tempDir('model');
  const tok = testTokenizerJson();
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
  fs.writeFileSync(path.join(dir, 'model.onnx'), 'not a real graph');
  const manifest: Record<string, unknown> = {
    format: 'diffusion-infill/1',
    name: 'test',
    onnx: 'model.onnx',
    tokenizer: 'tokenizer.json',
    vocab_size: tok.vocabSize,
    special_tokens: {
      mask: tok.ids['<|mask|>'],
      pad: tok.ids['<|pad|>'],
      end: tok.ids['<|end|>'],
      bos: tok.ids['<|bos|>'],
    },
    logit_shift: 'none',
    max_length: 256,
    output_kind: 'positions_topk',
    top_k: 8,
    languages: ['python'],
  };
  edit?.(manifest);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(manifest, null, 1));
  return dir;
}

/** A prediction whose top-1 is `token` with probability p (rest spread over k-1 other ids). */
export function prediction(
  token: number,
  p: number,
  entropy?: number,
  others = [1000, 1001, 1002],
): RowPrediction {
  const rest = (1 - p) / others.length;
  const probs = [p, ...others.map(() => rest)];
  const h = entropy ?? -probs.reduce((s, q) => s + (q > 0 ? q * Math.log(q) : 0), 0);
  return { ids: [token, ...others], probs, entropy: h };
}

/** Runs the built CLI (out/src/cli.js) as a user would; exit code and both streams. */
export function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_ENTRY, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
