// Line comment syntax per VS Code language id, for Generate from Prompt: the prompt reaches the
// model as a comment in the file's language, placed in the context just above the cursor line.

const LINE: Record<string, string> = {
  python: '#',
  shellscript: '#',
  ruby: '#',
  perl: '#',
  r: '#',
  yaml: '#',
  toml: '#',
  dockerfile: '#',
  makefile: '#',
  powershell: '#',
  coffeescript: '#',
  elixir: '#',
  julia: '#',
  typescript: '//',
  typescriptreact: '//',
  javascript: '//',
  javascriptreact: '//',
  java: '//',
  c: '//',
  cpp: '//',
  csharp: '//',
  go: '//',
  rust: '//',
  swift: '//',
  kotlin: '//',
  scala: '//',
  dart: '//',
  php: '//',
  groovy: '//',
  fsharp: '//',
  jsonc: '//',
  scss: '//',
  less: '//',
  sql: '--',
  lua: '--',
  haskell: '--',
  elm: '--',
  latex: '%',
  tex: '%',
  erlang: '%',
  matlab: '%',
  clojure: ';',
  lisp: ';',
  scheme: ';',
  ini: ';',
  vb: "'",
  bat: 'REM',
};

const BLOCK: Record<string, [string, string]> = {
  css: ['/*', '*/'],
  html: ['<!--', '-->'],
  xml: ['<!--', '-->'],
  markdown: ['<!--', '-->'],
  vue: ['<!--', '-->'],
  svelte: ['<!--', '-->'],
};

/** `text` as one comment line in `languageId` (multi-line prompts are joined with spaces). */
export function commentLine(languageId: string, text: string): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ').trim();
  const line = LINE[languageId];
  if (line) {
    return `${line} ${oneLine}`;
  }
  const block = BLOCK[languageId];
  if (block) {
    return `${block[0]} ${oneLine.split(block[1]).join('')} ${block[1]}`;
  }
  return `# ${oneLine}`;
}
