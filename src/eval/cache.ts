// Per-task result cache: a JSONL file of {key, task_id, hash, ...record}; key = hash + task_id. A run
// appends each finished task at once, so an interrupted run resumes where it stopped; records of other
// settings (other hashes) stay in the file untouched.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** JSON with object keys sorted (a stable input for hashing). */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(stableStringify).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function settingsHash(settings: unknown): string {
  return createHash('sha256').update(stableStringify(settings)).digest('hex').slice(0, 16);
}

/** Identity of a model folder: its manifest and the bytes of its ONNX graph(s). */
export function modelFingerprint(modelDir: string): string {
  const h = createHash('sha256');
  const manifestFile = path.join(modelDir, 'model.json');
  const manifestText = fs.readFileSync(manifestFile, 'utf8');
  h.update(manifestText);
  const manifest = JSON.parse(manifestText) as Record<string, unknown>;
  for (const key of ['onnx', 'tokenizer']) {
    const name = manifest[key];
    if (typeof name === 'string' && fs.existsSync(path.join(modelDir, name))) {
      h.update(fs.readFileSync(path.join(modelDir, name)));
    }
  }
  return h.digest('hex').slice(0, 16);
}

export interface CachedRecord {
  task_id: string;
}

export class ResultCache {
  private readonly records = new Map<string, CachedRecord>();

  /** `file` undefined: an in-memory cache (nothing persists). */
  constructor(readonly file: string | undefined) {
    if (file && fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (line.trim().length === 0) {
          continue;
        }
        try {
          const r = JSON.parse(line) as CachedRecord & { key?: string };
          if (typeof r.key === 'string') {
            this.records.set(r.key, r);
          }
        } catch {
          // a line cut short by an interrupted run: ignore it, the task runs again
        }
      }
    }
  }

  static key(hash: string, taskId: string): string {
    return `${hash}:${taskId}`;
  }

  get<T extends CachedRecord>(hash: string, taskId: string): T | undefined {
    const r = this.records.get(ResultCache.key(hash, taskId));
    if (!r) {
      return undefined;
    }
    const record: Record<string, unknown> = { ...r };
    delete record.key;
    delete record.hash;
    return record as unknown as T;
  }

  put(hash: string, record: CachedRecord): void {
    const key = ResultCache.key(hash, record.task_id);
    const line = { key, hash, ...record };
    this.records.set(key, line);
    if (this.file) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, JSON.stringify(line) + '\n');
    }
  }
}
