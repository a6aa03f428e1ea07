// Syntax-unit and identifier annotations for the training corpus, computed with the same tree-sitter grammars the
// extension uses (web-tree-sitter + @vscode/tree-sitter-wasm). Debian has no Python binding for tree-sitter, so the
// Python trainer reads these annotations instead of parsing itself.
//
// Input:  files.jsonl ({id, lang, text, ...} per line)
// Output: spans.jsonl ({id, spans: [[start, end], ...], idents: [[start, end, name], ...]} per line)
// Offsets are UTF-16 code-unit offsets into `text` (JavaScript string indices); the Python side converts them.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const require = createRequire(path.join(repo, 'package.json'));
const { Parser, Language } = require('web-tree-sitter');
const grammarDir = path.join(repo, 'node_modules', '@vscode', 'tree-sitter-wasm', 'wasm');

const GRAMMAR_BY_LANG = {
  python: 'tree-sitter-python.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  typescript: 'tree-sitter-typescript.wasm',
};
// Whole syntactic units a user might select: statements, expressions, blocks, argument and parameter lists, bodies.
const UNIT =
  /statement|expression|declaration|definition|block|argument|parameter|body|list|dictionary|object|array|call|assignment|operator|clause|comprehension|lambda|arrow|subscript|attribute|pair|template/;
const IDENTIFIER = new Set([
  'identifier',
  'property_identifier',
  'type_identifier',
  'shorthand_property_identifier',
  'shorthand_property_identifier_pattern',
  'field_identifier',
]);
const MAX_UNIT_CHARS = 3000;

async function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node models/recipe/spans.mjs files.jsonl spans.jsonl');
    process.exit(2);
  }
  await Parser.init();
  const parsers = {};
  for (const [lang, file] of Object.entries(GRAMMAR_BY_LANG)) {
    const parser = new Parser();
    parser.setLanguage(await Language.load(path.join(grammarDir, file)));
    parsers[lang] = parser;
  }
  const out = fs.createWriteStream(output);
  const lines = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity });
  let count = 0;
  let errors = 0;
  for await (const line of lines) {
    if (!line) continue;
    const file = JSON.parse(line);
    const parser = parsers[file.lang];
    const spans = [];
    const idents = [];
    if (parser) {
      const tree = parser.parse(file.text);
      if (tree.rootNode.hasError) errors++;
      const cursor = tree.walk();
      let descend = true;
      for (;;) {
        if (descend) {
          const node = cursor.currentNode;
          const len = node.endIndex - node.startIndex;
          if (IDENTIFIER.has(node.type)) {
            idents.push([node.startIndex, node.endIndex, node.text]);
          } else if (node.isNamed && node.childCount > 0 && len >= 2 && len <= MAX_UNIT_CHARS && UNIT.test(node.type)) {
            spans.push([node.startIndex, node.endIndex]);
          }
        }
        if (descend && cursor.gotoFirstChild()) continue;
        if (cursor.gotoNextSibling()) {
          descend = true;
          continue;
        }
        if (!cursor.gotoParent()) break;
        descend = false;
      }
      cursor.delete();
      tree.delete();
    }
    out.write(JSON.stringify({ id: file.id, spans, idents }) + '\n');
    count++;
  }
  await new Promise((resolve) => out.end(resolve));
  console.error(JSON.stringify({ files: count, files_with_parse_errors: errors }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
