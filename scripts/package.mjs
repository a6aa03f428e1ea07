#!/usr/bin/env node
// Builds one VSIX per platform target (`npm run package`), each holding exactly what that platform
// runs and nothing else:
//   - dist/extension.js, dist/engineProcess.js: the production (minified) esbuild bundle
//   - dist/node_modules/: the runtime files esbuild cannot bundle: onnxruntime-node's JavaScript and
//     the target's own native binaries (WebGPU/DirectML libraries included where the npm package
//     bundles them), onnxruntime-common, the tree-sitter runtime and the grammars languages.ts names
//   - models/default: the files the runtime reads (model.json, its `onnx` graph and `tokenizer`)
//   - package.json, README.md, LICENSE, THIRD_PARTY_NOTICES.md, media/ (icon, visualiser webview assets)
//
//   node scripts/package.mjs [--target T]... [--out DIR]   (default: build/vsix, every target in TARGETS
//                                                          that onnxruntime-node has binaries for)
//   node scripts/package.mjs --notices                     rewrite THIRD_PARTY_NOTICES.md
//
// Why a staging folder instead of .vscodeignore lists: the shipped model.json must not name the
// parity-test graph it leaves out (the manifest loader rejects a named file that is missing), and an
// allow-list of copied files cannot pick up stray files (downloaded CUDA libraries, source maps).
// The runtime packages go under dist/node_modules because `vsce --no-dependencies` never collects
// a top-level node_modules; Node's resolution (and engine/resolve.ts) finds them from dist/ the same
// way it finds the repository's node_modules in development.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NM = path.join(ROOT, 'node_modules');

/** VS Code target -> Node's process.platform / process.arch (onnxruntime-node's bin/napi-v6 layout). */
export const TARGETS = {
  'linux-x64': { platform: 'linux', arch: 'x64' },
  'linux-arm64': { platform: 'linux', arch: 'arm64' },
  'win32-x64': { platform: 'win32', arch: 'x64' },
  'win32-arm64': { platform: 'win32', arch: 'arm64' },
  'darwin-x64': { platform: 'darwin', arch: 'x64' },
  'darwin-arm64': { platform: 'darwin', arch: 'arm64' },
};

function ortBinDir(t) {
  return path.join(NM, 'onnxruntime-node', 'bin', 'napi-v6', t.platform, t.arch);
}

/**
 * The target's native files: everything in its bin folder except provider libraries that
 * onnxruntime-node's install script downloads on a CUDA machine (not in the npm package, hundreds of
 * MB, tied to the local CUDA install) and byte-identical copies of a library the binding does not
 * load (npm cannot store symlinks: macOS gets libonnxruntime.1.30.0.dylib next to
 * libonnxruntime.1.dylib, the name the binding links).
 */
export function nativeFiles(t) {
  const dir = ortBinDir(t);
  if (!fs.existsSync(dir)) {
    return undefined;
  }
  const names = fs
    .readdirSync(dir)
    .filter((n) => fs.statSync(path.join(dir, n)).isFile())
    .filter((n) => !/^(lib)?onnxruntime_providers_/.test(n))
    .sort();
  const binding = fs.readFileSync(path.join(dir, 'onnxruntime_binding.node')).toString('latin1');
  const linked = new Set(names.filter((n) => n !== 'onnxruntime_binding.node' && binding.includes(n)));
  const hash = (n) =>
    crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(dir, n)))
      .digest('hex');
  const linkedHashes = new Set([...linked].map(hash));
  return names.filter((n) => linked.has(n) || n === 'onnxruntime_binding.node' || !linkedHashes.has(hash(n)));
}

/**
 * media/ as the extension uses it: the icon and the visualiser webview's assets. The README's
 * screenshots stay out (vsce points the README's images at the repository).
 */
export function mediaFiles() {
  return fs
    .readdirSync(path.join(ROOT, 'media'))
    .filter((n) => !n.startsWith('screenshot-'))
    .sort()
    .map((n) => `media/${n}`);
}

/** Grammar files named in src/engine/languages.ts (syntax.ts loads only those). */
export function grammarFiles() {
  const src = fs.readFileSync(path.join(ROOT, 'src', 'engine', 'languages.ts'), 'utf8');
  return [...new Set([...src.matchAll(/'(tree-sitter-[\w-]+\.wasm)'/g)].map((m) => m[1]))].sort();
}

/** The default model's runtime files, and its model.json without the parity-test graph. */
export function modelFiles() {
  const dir = path.join(ROOT, 'models', 'default');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const shipped = { ...manifest };
  // The full-logits graph is only read by `--full-logits` (CLI) and the parity tests.
  delete shipped.onnx_full_logits;
  return { dir, files: [manifest.onnx, manifest.tokenizer], manifest: shipped };
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

function copyTree(from, to, keep) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    if (entry.isDirectory()) {
      copyTree(src, path.join(to, entry.name), keep);
    } else if (entry.isFile() && keep(entry.name)) {
      copy(src, path.join(to, entry.name));
    }
  }
}

/** The JavaScript of onnxruntime-node and onnxruntime-common that runs (no maps, types, sources). */
/** Python modules the checkpoint converter imports (models/export/convert.py and what it imports). */
function exporterFiles() {
  return [
    '__init__.py',
    'checkpoint.py',
    'convert.py',
    'modeling.py',
    'onnx_export.py',
    'quantize.py',
    'safetensors_io.py',
  ];
}

function stageRuntimeJs(nodeModules) {
  // package.json files inside dist/ matter: onnxruntime-common's dist/cjs/package.json marks the
  // folder CommonJS inside a "type": "module" package.
  const js = (n) => n.endsWith('.js') || n === 'package.json';
  const ortNode = path.join(NM, 'onnxruntime-node');
  copy(path.join(ortNode, 'package.json'), path.join(nodeModules, 'onnxruntime-node', 'package.json'));
  copyTree(path.join(ortNode, 'dist'), path.join(nodeModules, 'onnxruntime-node', 'dist'), js);
  const common = path.join(NM, 'onnxruntime-common');
  copy(path.join(common, 'package.json'), path.join(nodeModules, 'onnxruntime-common', 'package.json'));
  copyTree(path.join(common, 'dist', 'cjs'), path.join(nodeModules, 'onnxruntime-common', 'dist', 'cjs'), js);
  const wts = path.join(NM, 'web-tree-sitter');
  for (const f of ['package.json', 'LICENSE', 'web-tree-sitter.wasm']) {
    copy(path.join(wts, f), path.join(nodeModules, 'web-tree-sitter', f));
  }
  const grammars = path.join(NM, '@vscode', 'tree-sitter-wasm');
  for (const f of ['package.json', 'LICENSE']) {
    copy(path.join(grammars, f), path.join(nodeModules, '@vscode', 'tree-sitter-wasm', f));
  }
  for (const g of grammarFiles()) {
    copy(path.join(grammars, 'wasm', g), path.join(nodeModules, '@vscode', 'tree-sitter-wasm', 'wasm', g));
  }
}

/** package.json as shipped: no scripts (vsce would run vscode:prepublish), no CLI bin (not shipped). */
function shippedManifest() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  delete pkg.scripts;
  delete pkg.bin;
  return pkg;
}

function readPkg(name) {
  return JSON.parse(fs.readFileSync(path.join(NM, name, 'package.json'), 'utf8'));
}

const MIT_MICROSOFT = `MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`;

/** Upstream repositories of the grammars @vscode/tree-sitter-wasm builds (all MIT licensed). */
const GRAMMAR_REPOS = {
  'tree-sitter-bash.wasm': 'https://github.com/tree-sitter/tree-sitter-bash',
  'tree-sitter-c-sharp.wasm': 'https://github.com/tree-sitter/tree-sitter-c-sharp',
  'tree-sitter-cpp.wasm': 'https://github.com/tree-sitter/tree-sitter-cpp',
  'tree-sitter-css.wasm': 'https://github.com/tree-sitter/tree-sitter-css',
  'tree-sitter-go.wasm': 'https://github.com/tree-sitter/tree-sitter-go',
  'tree-sitter-java.wasm': 'https://github.com/tree-sitter/tree-sitter-java',
  'tree-sitter-javascript.wasm': 'https://github.com/tree-sitter/tree-sitter-javascript',
  'tree-sitter-php.wasm': 'https://github.com/tree-sitter/tree-sitter-php',
  'tree-sitter-python.wasm': 'https://github.com/tree-sitter/tree-sitter-python',
  'tree-sitter-ruby.wasm': 'https://github.com/tree-sitter/tree-sitter-ruby',
  'tree-sitter-rust.wasm': 'https://github.com/tree-sitter/tree-sitter-rust',
  'tree-sitter-tsx.wasm': 'https://github.com/tree-sitter/tree-sitter-typescript',
  'tree-sitter-typescript.wasm': 'https://github.com/tree-sitter/tree-sitter-typescript',
};

/**
 * THIRD_PARTY_NOTICES.md from what the VSIX carries: the packages esbuild bundled (from its
 * metafile) and the runtime packages copied next to the bundle, with their licence files.
 */
export function notices(bundledPackages) {
  const runtime = ['onnxruntime-node', 'onnxruntime-common', 'web-tree-sitter', '@vscode/tree-sitter-wasm'];
  const names = [...new Set([...bundledPackages, ...runtime])].sort();
  const out = [
    '# Third-party notices',
    '',
    'Diffusion Infill (MIT, see LICENSE) ships the following third-party software in its VSIX.',
    'This file is generated by `node scripts/package.mjs --notices`; packaging fails when it is stale.',
    '',
  ];
  for (const name of names) {
    const pkg = readPkg(name);
    const how = bundledPackages.includes(name) ? 'bundled into dist/*.js' : 'shipped in dist/node_modules';
    const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
    out.push(`## ${name} ${pkg.version} (${pkg.license}; ${how})`, '');
    if (repo) {
      out.push(`Source: ${repo.replace(/^git\+/, '')}`, '');
    }
    if (name === 'onnxruntime-node') {
      out.push(
        "Includes the ONNX Runtime native library for the VSIX's platform. ONNX Runtime itself bundles",
        'third-party components listed in https://github.com/microsoft/onnxruntime/blob/main/ThirdPartyNotices.txt.',
        'The Windows packages also carry DirectML.dll (Microsoft DirectML, https://www.nuget.org/packages/Microsoft.AI.DirectML)',
        'and dxcompiler.dll / dxil.dll (DirectX Shader Compiler, https://github.com/microsoft/DirectXShaderCompiler),',
        'redistributed as shipped in the onnxruntime-node npm package under their own licences.',
        '',
      );
    }
    if (name === '@vscode/tree-sitter-wasm') {
      out.push(
        'Grammars shipped (MIT licensed upstream; the npm package carries no per-grammar licence file):',
        '',
      );
      for (const g of grammarFiles()) {
        out.push(`- ${g}: ${GRAMMAR_REPOS[g] ?? '(unknown upstream)'}`);
      }
      out.push('');
    }
    const licenceFile = ['LICENSE', 'LICENSE.md', 'LICENSE.txt']
      .map((f) => path.join(NM, name, f))
      .find((f) => fs.existsSync(f));
    let text;
    if (licenceFile) {
      text = fs.readFileSync(licenceFile, 'utf8');
    } else if (pkg.license === 'MIT' && /microsoft/i.test(repo ?? '')) {
      // onnxruntime-node / -common publish no licence file; the repository's LICENSE is this text.
      text = MIT_MICROSOFT;
    } else {
      throw new Error(`${name}: no licence file to quote in THIRD_PARTY_NOTICES.md`);
    }
    out.push('```text', text.replace(/\r\n/g, '\n').trimEnd(), '```', '');
  }
  return out.join('\n');
}

function bundledPackagesOf(metaFile) {
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  const names = new Set();
  for (const input of Object.keys(meta.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) {
      names.add(m[1]);
    }
  }
  return [...names].sort();
}

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

function main(argv) {
  if (argv.includes('--refuse-root')) {
    // vscode:prepublish of the repository's package.json: `vsce package` at the root would ship the
    // whole checkout; the staged package.json has no scripts, so this only runs at the root.
    console.error('Package with `npm run package` (scripts/package.mjs builds one VSIX per target).');
    process.exit(1);
  }
  const targets = [];
  let outDir = path.join(ROOT, 'build', 'vsix');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') {
      targets.push(argv[++i]);
    } else if (argv[i] === '--out') {
      outDir = path.resolve(argv[++i]);
    } else if (argv[i] !== '--notices') {
      throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  for (const t of targets) {
    if (!TARGETS[t]) {
      throw new Error(`unknown target ${t} (one of ${Object.keys(TARGETS).join(', ')})`);
    }
  }
  // A fresh staging folder per run, so that runs in parallel (a test and a build) cannot collide.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'di-vsix-'));
  try {
    build(argv, targets, outDir, work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function build(argv, targets, outDir, work) {
  const bundle = path.join(work, 'bundle');
  run(process.execPath, [path.join(ROOT, 'esbuild.js'), '--production', `--outdir=${bundle}`], { cwd: ROOT });
  const text = notices(bundledPackagesOf(path.join(bundle, 'meta.json')));
  const noticesFile = path.join(ROOT, 'THIRD_PARTY_NOTICES.md');
  if (argv.includes('--notices')) {
    fs.writeFileSync(noticesFile, text);
    console.log(`wrote ${noticesFile}`);
    return;
  }
  if (!fs.existsSync(noticesFile) || fs.readFileSync(noticesFile, 'utf8') !== text) {
    throw new Error(
      'THIRD_PARTY_NOTICES.md is stale: run `node scripts/package.mjs --notices` and commit it',
    );
  }
  const pkg = shippedManifest();
  const model = modelFiles();
  const vsce = path.join(NM, '@vscode', 'vsce', 'vsce');
  fs.mkdirSync(outDir, { recursive: true });
  for (const target of targets.length ? targets : Object.keys(TARGETS)) {
    const started = Date.now();
    const t = TARGETS[target];
    const natives = nativeFiles(t);
    if (!natives) {
      // onnxruntime-node 1.30 ships no darwin/x64 binaries (its macOS build is arm64 only): a VSIX
      // without a runtime would install and fail, so none is built; asked for by name, it is an error.
      const why = `onnxruntime-node ${readPkg('onnxruntime-node').version} ships no ${t.platform}/${t.arch} binaries`;
      if (targets.includes(target)) {
        throw new Error(`${target}: ${why}`);
      }
      console.log(`${target}: NOT BUILT: ${why}`);
      continue;
    }
    const stage = path.join(work, target);
    fs.mkdirSync(stage, { recursive: true });
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    for (const f of ['README.md', 'LICENSE', 'THIRD_PARTY_NOTICES.md', ...mediaFiles()]) {
      copy(path.join(ROOT, f), path.join(stage, f));
    }
    // Everything staged ships; the file keeps vsce from looking for one elsewhere.
    fs.writeFileSync(path.join(stage, '.vscodeignore'), '');
    for (const f of ['extension.js', 'engineProcess.js']) {
      copy(path.join(bundle, f), path.join(stage, 'dist', f));
    }
    const nodeModules = path.join(stage, 'dist', 'node_modules');
    stageRuntimeJs(nodeModules);
    const binRel = path.join('onnxruntime-node', 'bin', 'napi-v6', t.platform, t.arch);
    for (const f of natives) {
      copy(path.join(ortBinDir(t), f), path.join(nodeModules, binRel, f));
    }
    const modelDir = path.join(stage, 'models', 'default');
    for (const f of model.files) {
      copy(path.join(model.dir, f), path.join(modelDir, f));
    }
    fs.writeFileSync(path.join(modelDir, 'model.json'), JSON.stringify(model.manifest, null, 1) + '\n');
    // The checkpoint converter (Diffusion Infill: Convert Model...) runs `python3 -m models.export.convert`
    // from the extension folder with the user's python3: ship its sources, nothing else of models/.
    copy(path.join(ROOT, 'models', '__init__.py'), path.join(stage, 'models', '__init__.py'));
    for (const f of exporterFiles()) {
      copy(path.join(ROOT, 'models', 'export', f), path.join(stage, 'models', 'export', f));
    }
    const vsix = path.join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
    run(process.execPath, [vsce, 'package', '--no-dependencies', '--target', target, '--out', vsix], {
      cwd: stage,
    });
    const mb = (fs.statSync(vsix).size / 1e6).toFixed(1);
    console.log(
      `${target}: ${path.relative(ROOT, vsix)} ${mb} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`package: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
}
