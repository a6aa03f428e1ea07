// Parse-error ranges through web-tree-sitter with the grammars VS Code itself ships
// (@vscode/tree-sitter-wasm). Used by late remasking: canvas tokens inside ERROR/MISSING nodes of
// prefix + canvas + suffix are predicted again.
// `import = require` (not `import`) so that bundlers pick web-tree-sitter's CommonJS build: its ES module
// build locates files through import.meta.url, which a CommonJS bundle does not have.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
import TreeSitter = require('web-tree-sitter');
import { resolvePackageFile } from './resolve';
import type { Span } from './sampler/spans';
import { LANGUAGES } from './languages';

/** VS Code language id -> grammar file in @vscode/tree-sitter-wasm/wasm (from languages.ts). */
export const GRAMMARS: Readonly<Record<string, string>> = Object.fromEntries(
  LANGUAGES.map((l) => [l.id, l.grammar]),
);

let parserReady: Promise<void> | undefined;
const checkers = new Map<string, Promise<SyntaxChecker | undefined>>();

export class SyntaxChecker {
  private constructor(
    private readonly parser: TreeSitter.Parser,
    readonly languageId: string,
  ) {}

  /** A checker for the language, or undefined when no grammar is mapped for it. Cached per language. */
  static forLanguage(languageId: string): Promise<SyntaxChecker | undefined> {
    let checker = checkers.get(languageId);
    if (!checker) {
      checker = SyntaxChecker.load(languageId);
      checkers.set(languageId, checker);
      // A failed load (missing wasm) is retried next time instead of being cached.
      checker.catch(() => checkers.delete(languageId));
    }
    return checker;
  }

  private static async load(languageId: string): Promise<SyntaxChecker | undefined> {
    const grammar = GRAMMARS[languageId];
    if (!grammar) {
      return undefined;
    }
    const grammarPath = resolvePackageFile('@vscode/tree-sitter-wasm', `wasm/${grammar}`);
    if (!grammarPath) {
      throw new Error(`grammar ${grammar} not found in @vscode/tree-sitter-wasm`);
    }
    parserReady ??= initParser();
    await parserReady;
    const language = await TreeSitter.Language.load(grammarPath);
    const parser = new TreeSitter.Parser();
    parser.setLanguage(language);
    return new SyntaxChecker(parser, languageId);
  }

  /** UTF-16 ranges of ERROR nodes and (zero-width) MISSING nodes in `text`. */
  errorRanges(text: string): Span[] {
    const tree = this.parser.parse(text);
    if (!tree) {
      return [];
    }
    const ranges: Span[] = [];
    const visit = (node: TreeSitter.Node): void => {
      if (node.isError || node.isMissing) {
        ranges.push({ start: node.startIndex, end: node.endIndex });
      }
      if (node.hasError) {
        for (const child of node.children) {
          if (child) {
            visit(child);
          }
        }
      }
    };
    visit(tree.rootNode);
    tree.delete();
    return ranges;
  }

  /** The innermost node whose type matches `types` and that contains `offset` (UTF-16), if any. */
  enclosingRange(text: string, offset: number, types: RegExp): Span | undefined {
    const tree = this.parser.parse(text);
    if (!tree) {
      return undefined;
    }
    let found: Span | undefined;
    let node: TreeSitter.Node | null = tree.rootNode.descendantForIndex(offset);
    for (; node; node = node.parent) {
      if (types.test(node.type)) {
        found = { start: node.startIndex, end: node.endIndex };
        break;
      }
    }
    tree.delete();
    return found;
  }
}

async function initParser(): Promise<void> {
  const wasm = resolvePackageFile('web-tree-sitter', 'web-tree-sitter.wasm');
  await TreeSitter.Parser.init(wasm ? { locateFile: () => wasm } : undefined);
}
