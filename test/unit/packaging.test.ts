// What users install: builds the linux-x64 VSIX with scripts/package.mjs (as `npm run package` does)
// into a temp folder, lists it with `unzip -l`, checks every file against what the platform needs,
// then unpacks it and runs an infill through the unpacked engine process with the unpacked model and
// onnxruntime binaries (outside the repository, so nothing resolves to the checkout's node_modules).
// The other targets' binary selections are checked without running vsce (same code path, seconds).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/engine/client';
import { loadManifest } from '../../src/engine/manifest';
import { GRAMMARS } from '../../src/engine/syntax';
import { REPO_ROOT, tempDir } from './helpers';

const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const ORT_BIN = path.join(REPO_ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
const SHIPPED_ORT_BIN = 'extension/dist/node_modules/onnxruntime-node/bin/napi-v6/';

/** Calls an export of scripts/package.mjs (an ES module; this test compiles to CommonJS). */
function fromScript<T>(expression: string): T {
  const code = `import * as p from ${JSON.stringify(path.join(REPO_ROOT, 'scripts', 'package.mjs'))};
    console.log(JSON.stringify(${expression}));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }),
  );
}

/** Names of the libraries in `dir` that the binding file refers to (the loader looks them up by name). */
function linkedLibraries(dir: string): string[] {
  const binding = fs.readFileSync(path.join(dir, 'onnxruntime_binding.node')).toString('latin1');
  return fs.readdirSync(dir).filter((n) => n !== 'onnxruntime_binding.node' && binding.includes(n));
}

describe('VSIX packaging (linux-x64 built and unpacked)', () => {
  let out: string;
  let vsix: string;
  let entries: Map<string, number>;
  let unpacked: string;
  const clients: EngineClient[] = [];

  before(() => {
    out = tempDir('vsix');
    execFileSync(
      process.execPath,
      [path.join(REPO_ROOT, 'scripts', 'package.mjs'), '--target', 'linux-x64', '--out', out],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    vsix = path.join(out, `${PKG.name}-linux-x64-${PKG.version}.vsix`);
    assert.ok(fs.existsSync(vsix), `${vsix} was built`);
    const listing = execFileSync('unzip', ['-l', vsix], { encoding: 'utf8', maxBuffer: 1 << 24 });
    entries = new Map();
    for (const line of listing.split('\n')) {
      const m = /^\s*(\d+)\s+\S+\s+\S+\s+(\S.*)$/.exec(line);
      if (m && m[2] !== 'Name') {
        entries.set(m[2], Number(m[1]));
      }
    }
    unpacked = path.join(out, 'unpacked');
    execFileSync('unzip', ['-q', vsix, '-d', unpacked]);
  });

  after(() => {
    clients.forEach((c) => c.dispose());
    if (out) {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('holds exactly the linux-x64 onnxruntime binaries, no other platform', () => {
    const shipped = [...entries.keys()].filter((e) => e.startsWith(SHIPPED_ORT_BIN)).sort();
    const expected = fs
      .readdirSync(path.join(ORT_BIN, 'linux', 'x64'))
      .filter((n) => !n.startsWith('libonnxruntime_providers_'))
      .map((n) => `${SHIPPED_ORT_BIN}linux/x64/${n}`)
      .sort();
    assert.deepEqual(shipped, expected);
    assert.ok(shipped.some((e) => e.endsWith('/libonnxruntime.so.1')));
    const nodeFiles = [...entries.keys()].filter((e) => /\.(node|so(\.\d+)*|dll|dylib)$/.test(e));
    assert.deepEqual(nodeFiles.sort(), expected, 'no native file anywhere else');
  });

  it('ships the minified bundle without source maps or the CLI', () => {
    for (const f of ['extension.js', 'engineProcess.js']) {
      const text = fs.readFileSync(path.join(unpacked, 'extension', 'dist', f), 'utf8');
      const lines = text.split('\n').length;
      assert.ok(lines < 100, `${f} is minified (${lines} lines)`);
      assert.ok(!text.includes('sourceMappingURL'), `${f} has no source map reference`);
    }
    const stray = [...entries.keys()].filter((e) => /\.(map|ts)$/.test(e) || e.endsWith('dist/cli.js'));
    assert.deepEqual(stray, []);
  });

  it('ships the runtime model files only, and the shipped manifest loads', () => {
    const model = [...entries.keys()].filter((e) => e.startsWith('extension/models/default/')).sort();
    assert.deepEqual(model, [
      'extension/models/default/model.json',
      'extension/models/default/model.onnx',
      'extension/models/default/tokenizer.json',
    ]);
    const others = [...entries.keys()].filter(
      (e) => e.startsWith('extension/models/') && !e.startsWith('extension/models/default/'),
    );
    // Convert Model... runs `python3 -m models.export.convert` from the extension folder.
    assert.deepEqual(others.sort(), [
      'extension/models/__init__.py',
      'extension/models/export/__init__.py',
      'extension/models/export/checkpoint.py',
      'extension/models/export/convert.py',
      'extension/models/export/modeling.py',
      'extension/models/export/onnx_export.py',
      'extension/models/export/quantize.py',
      'extension/models/export/safetensors_io.py',
    ]);
    const dir = path.join(unpacked, 'extension', 'models', 'default');
    const manifest = loadManifest(dir);
    assert.equal(manifest.fullLogitsPath, undefined);
    const original = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'models', 'default', 'model.json'), 'utf8'),
    );
    assert.equal(manifest.name, original.name);
  });

  it('ships the tree-sitter runtime and exactly the grammars syntax.ts maps', () => {
    const grammars = [...entries.keys()]
      .filter((e) => e.startsWith('extension/dist/node_modules/@vscode/tree-sitter-wasm/wasm/'))
      .map((e) => path.basename(e))
      .sort();
    assert.deepEqual(grammars, [...new Set(Object.values(GRAMMARS))].sort());
    assert.ok(entries.has('extension/dist/node_modules/web-tree-sitter/web-tree-sitter.wasm'));
  });

  it('ships LICENSE, notices, icon, and a manifest with repository, banner, target and no scripts', () => {
    for (const f of [
      'LICENSE.txt',
      'THIRD_PARTY_NOTICES.md',
      'media/icon.png',
      'readme.md',
      'package.json',
    ]) {
      assert.ok(entries.has(`extension/${f}`), f);
    }
    // media/ holds the icon and the webview assets the extension loads; README screenshots stay out.
    const media = [...entries.keys()].filter((e) => e.startsWith('extension/media/')).sort();
    const used = fs
      .readdirSync(path.join(REPO_ROOT, 'media'))
      .filter((n) => !n.startsWith('screenshot-'))
      .map((n) => `extension/media/${n}`)
      .sort();
    assert.deepEqual(media, used);
    assert.ok(media.includes('extension/media/visualiser.js'), 'the visualiser webview script ships');
    const notices = fs.readFileSync(path.join(unpacked, 'extension', 'THIRD_PARTY_NOTICES.md'), 'utf8');
    for (const name of [
      'onnxruntime-node',
      'onnxruntime-common',
      '@huggingface/tokenizers',
      'web-tree-sitter',
    ]) {
      assert.ok(notices.includes(`## ${name} `), `notices cover ${name}`);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(unpacked, 'extension', 'package.json'), 'utf8'));
    assert.ok(pkg.repository?.url, 'repository');
    assert.deepEqual(pkg.extensionKind, ['workspace']);
    assert.equal(pkg.scripts, undefined);
    assert.equal(pkg.main, './dist/extension.js');
    const vsixManifest = fs.readFileSync(path.join(unpacked, 'extension.vsixmanifest'), 'utf8');
    assert.match(vsixManifest, /TargetPlatform="linux-x64"/);
    assert.match(vsixManifest, /Branding\.Color" Value="#/);
    assert.match(vsixManifest, /<Icon>extension\/media\/icon\.png<\/Icon>/);
    const outside = [...entries.keys()].filter(
      (e) =>
        !/^extension\/(dist|models|media)\//.test(e) &&
        !/^extension\/[^/]+$/.test(e) &&
        !['[Content_Types].xml', 'extension.vsixmanifest'].includes(e),
    );
    assert.deepEqual(outside, [], 'nothing outside dist/, models/, media/ and the top-level files');
  });

  it('the unpacked onnxruntime-node has the WebGPU provider built in (linux-x64)', () => {
    const ort = path.join(unpacked, 'extension', 'dist', 'node_modules', 'onnxruntime-node');
    const code = `console.log(JSON.stringify(require(${JSON.stringify(ort)}).listSupportedBackends()))`;
    const backends = JSON.parse(execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' })) as {
      name: string;
      bundled: boolean;
    }[];
    assert.ok(
      backends.some((b) => b.name === 'webgpu' && b.bundled),
      JSON.stringify(backends),
    );
    assert.ok(backends.some((b) => b.name === 'cpu' && b.bundled));
  });

  it('the unpacked extension runs an infill with its own engine, model and binaries', async () => {
    const ext = path.join(unpacked, 'extension');
    const client = new EngineClient({ enginePath: path.join(ext, 'dist', 'engineProcess.js') });
    clients.push(client);
    const info = await client.load({
      modelDir: path.join(ext, 'models', 'default'),
      executionProvider: 'cpu',
      threads: 1,
    });
    assert.equal(info.executionProvider, 'cpu');
    const result = await client.infill(
      {
        prefix: 'def add(a, b):\n',
        suffix: '\n\nprint(add(1, 2))\n',
        selectionText: '    return a + b',
        languageId: 'python',
        // guarded = late remasking through tree-sitter: the shipped grammar and runtime wasm load.
        sampler: { strategy: 'guarded' },
      },
      () => undefined,
    );
    assert.equal(typeof result.completion, 'string');
    assert.ok(result.nfe >= 1);
  });
});

describe('VSIX packaging guards', () => {
  it('`vsce package` at the repository root is refused by vscode:prepublish (it would ship the checkout)', () => {
    const out = tempDir('vsix-root');
    try {
      const vsce = path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
      let failed: { status: number | null; stderr: string } | undefined;
      try {
        execFileSync(process.execPath, [vsce, 'package', '--out', path.join(out, 'root.vsix')], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          encoding: 'utf8',
        });
      } catch (err) {
        failed = err as { status: number | null; stderr: string };
      }
      assert.ok(failed, 'vsce package at the root must fail');
      assert.match(String(failed.stderr), /npm run package/);
      assert.deepEqual(fs.readdirSync(out), [], 'no VSIX written');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the committed THIRD_PARTY_NOTICES.md is what --notices writes (packaging refuses a stale one)', () => {
    const expected = fromScript<string>('p.notices(["@huggingface/tokenizers", "web-tree-sitter"])');
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'THIRD_PARTY_NOTICES.md'), 'utf8');
    assert.equal(committed, expected, 'the committed notices are what --notices writes');
    assert.ok(expected.includes('## onnxruntime-node ') && expected.includes('tree-sitter-python.wasm'));
  });
});

describe('VSIX packaging: every target picks its own binaries', () => {
  const targets = fromScript<Record<string, { platform: string; arch: string }>>('p.TARGETS');

  it('covers the six VS Code targets', () => {
    assert.deepEqual(Object.keys(targets).sort(), [
      'darwin-arm64',
      'darwin-x64',
      'linux-arm64',
      'linux-x64',
      'win32-arm64',
      'win32-x64',
    ]);
  });

  for (const [target, t] of Object.entries(targets)) {
    it(`${target}: the binding and every library it links, nothing byte-identical twice`, () => {
      const dir = path.join(ORT_BIN, t.platform, t.arch);
      const files = fromScript<string[] | null>(
        `p.nativeFiles(p.TARGETS[${JSON.stringify(target)}]) ?? null`,
      );
      if (!fs.existsSync(dir)) {
        // onnxruntime-node 1.30 has no Intel macOS build: no VSIX rather than one without a runtime.
        assert.equal(files, null);
        assert.equal(target, 'darwin-x64');
        return;
      }
      assert.ok(files, `${target} has binaries`);
      assert.ok(files.includes('onnxruntime_binding.node'));
      for (const lib of linkedLibraries(dir)) {
        assert.ok(files.includes(lib), `${target}: ${lib} (linked by the binding) is shipped`);
      }
      const all = fs.readdirSync(dir).filter((n) => !n.startsWith('libonnxruntime_providers_'));
      const left = all.filter((n) => !files.includes(n));
      for (const n of left) {
        // Only exact copies of a shipped library may be left out (macOS: libonnxruntime.1.30.0.dylib).
        const same = files.some((f) =>
          fs.readFileSync(path.join(dir, f)).equals(fs.readFileSync(path.join(dir, n))),
        );
        assert.ok(same, `${target}: ${n} left out although it is no copy of a shipped file`);
      }
      if (t.platform === 'win32') {
        // DirectML and the shader compiler Dawn's D3D12 backend (WebGPU) loads at run time.
        for (const dll of ['DirectML.dll', 'dxcompiler.dll', 'dxil.dll', 'onnxruntime.dll']) {
          assert.ok(files.includes(dll), `${target}: ${dll}`);
        }
      }
    });
  }
});
