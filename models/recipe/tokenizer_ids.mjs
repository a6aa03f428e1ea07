// Token ids exactly as the engine computes them (src/engine/tokenizer.ts: @huggingface/tokenizers, the model's
// tokenizer.json, clean_up_tokenization_spaces false, no special tokens added), for parity checks against bpe.py.
//   node models/recipe/tokenizer_ids.mjs tokenizer.json texts.json > ids.json     (texts.json: a JSON array of strings)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(repo, 'package.json'));
const { Tokenizer } = require('@huggingface/tokenizers');

const [tokenizerFile, textsFile] = process.argv.slice(2);
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerFile, 'utf8')), {
  clean_up_tokenization_spaces: false,
});
const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));
const ids = texts.map((t) => (t.length === 0 ? [] : tokenizer.encode(t, { add_special_tokens: false }).ids));
process.stdout.write(JSON.stringify(ids));
