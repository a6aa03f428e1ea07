// Token ids exactly as the engine computes them (src/engine/tokenizer.ts: @huggingface/tokenizers, the model's
// tokenizer.json, clean_up_tokenization_spaces false, no special tokens added), for parity checks against bpe.py.
//   node models/recipe/tokenizer_ids.mjs tokenizer.json texts.json > ids.json     (texts.json: a JSON array of strings)
//   node models/recipe/tokenizer_ids.mjs tokenizer.json files.jsonl               (token counts per split and language)
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
if (textsFile.endsWith('.jsonl')) {
  const readline = await import('node:readline');
  const counts = {};
  const lines = readline.createInterface({ input: fs.createReadStream(textsFile), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const f = JSON.parse(line);
    const key = `${f.split}/${f.lang}`;
    counts[key] ??= { files: 0, bytes: 0, tokens: 0 };
    counts[key].files += 1;
    counts[key].bytes += Buffer.byteLength(f.text);
    // +1: the <|endoftext|> that separates files in the packed stream.
    counts[key].tokens += tokenizer.encode(f.text, { add_special_tokens: false }).ids.length + 1;
  }
  process.stdout.write(JSON.stringify(counts) + '\n');
  process.exit(0);
}
const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));
const ids = texts.map((t) => (t.length === 0 ? [] : tokenizer.encode(t, { add_special_tokens: false }).ids));
process.stdout.write(JSON.stringify(ids));
