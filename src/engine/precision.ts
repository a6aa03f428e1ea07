// The optional float16 graph of a model folder: model.json "onnx_fp16" names a graph with the same
// inputs and outputs as "onnx" but float16 weights and matmuls (the exporter's --fp16-compute), which a
// GPU provider runs at half the memory traffic. Read here rather than in manifest.ts because only the
// session's GPU path uses it; a named file that is missing is a broken model folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from './errors';
import type { ModelManifest } from './manifest';

export function fp16GraphPath(manifest: ModelManifest): string | undefined {
  let raw: { onnx_fp16?: unknown };
  try {
    raw = JSON.parse(fs.readFileSync(path.join(manifest.dir, 'model.json'), 'utf8')) as {
      onnx_fp16?: unknown;
    };
  } catch {
    return undefined; // loadManifest already read and validated it; nothing more to say here
  }
  if (raw.onnx_fp16 === undefined) {
    return undefined;
  }
  if (typeof raw.onnx_fp16 !== 'string' || raw.onnx_fp16 === '') {
    throw new EngineError(
      'model-invalid',
      `${manifest.dir}/model.json: field "onnx_fp16" must be a file name`,
    );
  }
  const file = path.resolve(manifest.dir, raw.onnx_fp16);
  if (!fs.existsSync(file)) {
    throw new EngineError(
      'model-invalid',
      `${manifest.dir}/model.json: "onnx_fp16" names ${file}, which is missing`,
    );
  }
  return file;
}
