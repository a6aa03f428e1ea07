// The one table of languages the engine knows: VS Code language id, the file extensions that map to
// it (CLI and eval, which have no editor to ask), and its tree-sitter grammar in
// @vscode/tree-sitter-wasm (parse-error remasking). syntax.ts and region.ts derive their maps from it,
// so adding a language is one line here.
export interface LanguageEntry {
  id: string;
  extensions: readonly string[];
  /** Grammar file in @vscode/tree-sitter-wasm/wasm. */
  grammar: string;
}

export const LANGUAGES: readonly LanguageEntry[] = [
  { id: 'python', extensions: ['.py'], grammar: 'tree-sitter-python.wasm' },
  { id: 'typescript', extensions: ['.ts', '.mts', '.cts'], grammar: 'tree-sitter-typescript.wasm' },
  { id: 'typescriptreact', extensions: ['.tsx'], grammar: 'tree-sitter-tsx.wasm' },
  { id: 'javascript', extensions: ['.js', '.mjs', '.cjs'], grammar: 'tree-sitter-javascript.wasm' },
  { id: 'javascriptreact', extensions: ['.jsx'], grammar: 'tree-sitter-javascript.wasm' },
  { id: 'go', extensions: ['.go'], grammar: 'tree-sitter-go.wasm' },
  { id: 'rust', extensions: ['.rs'], grammar: 'tree-sitter-rust.wasm' },
  { id: 'java', extensions: ['.java'], grammar: 'tree-sitter-java.wasm' },
  { id: 'c', extensions: ['.c', '.h'], grammar: 'tree-sitter-cpp.wasm' },
  { id: 'cpp', extensions: ['.cpp', '.cc'], grammar: 'tree-sitter-cpp.wasm' },
  { id: 'csharp', extensions: ['.cs'], grammar: 'tree-sitter-c-sharp.wasm' },
  { id: 'ruby', extensions: ['.rb'], grammar: 'tree-sitter-ruby.wasm' },
  { id: 'php', extensions: ['.php'], grammar: 'tree-sitter-php.wasm' },
  { id: 'shellscript', extensions: ['.sh'], grammar: 'tree-sitter-bash.wasm' },
  { id: 'css', extensions: ['.css'], grammar: 'tree-sitter-css.wasm' },
];
