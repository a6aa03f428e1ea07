// Loads and validates a model folder's manifest (docs/model-format.md). Every failure names the file and
// the field, because the user fixes these by editing or replacing files in the model folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inferDropInManifest, isDropInFolder } from './dropin';
import { EngineError } from './errors';

export type LogitShift = 'none' | 'shifted';
export type OutputKind = 'positions_topk' | 'full_logits';

export interface SpecialTokens {
  mask: number;
  pad: number;
  end: number;
  eos?: number;
  bos?: number;
}

export interface ModelManifest {
  /** Absolute model folder. */
  dir: string;
  name: string;
  /** Absolute paths of the files the manifest names. */
  onnxPath: string;
  fullLogitsPath?: string;
  tokenizerPath: string;
  vocabSize: number;
  specialTokens: SpecialTokens;
  logitShift: LogitShift;
  maxLength: number;
  trainedLength?: number;
  outputKind: OutputKind;
  topK: number;
  languages: string[];
  /** Drop-in folders (no model.json): where each inferred value came from, for the log. */
  inferred?: string[];
}

export const MANIFEST_FILE = 'model.json';
const FORMAT = 'diffusion-infill/1';
const LOGIT_SHIFTS: readonly LogitShift[] = ['none', 'shifted'];
const OUTPUT_KINDS: readonly OutputKind[] = ['positions_topk', 'full_logits'];

export function loadManifest(modelDir: string): ModelManifest {
  const dir = path.resolve(modelDir);
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new EngineError('model-missing', `model folder not found: ${dir}`);
  }
  if (!fs.existsSync(file) && isDropInFolder(dir)) {
    return inferDropInManifest(dir); // Hugging Face / Optimum layout, no conversion (dropin.ts)
  }
  if (!fs.existsSync(file)) {
    throw new EngineError('model-missing', `${file}: manifest not found`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EngineError('model-invalid', `${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseManifest(raw, dir, file);
}

/** Validates a parsed manifest; `file` is only used in error messages. */
export function parseManifest(raw: unknown, dir: string, file: string): ModelManifest {
  const fields = new ManifestFields(raw, file);
  const format = fields.string('format');
  if (format !== FORMAT) {
    fields.invalid('format', `expected "${FORMAT}", got ${JSON.stringify(format)}`);
  }
  const outputKind = fields.oneOf('output_kind', OUTPUT_KINDS);
  const manifest: ModelManifest = {
    dir,
    name: fields.string('name'),
    onnxPath: fields.existingFile('onnx', dir),
    fullLogitsPath: fields.has('onnx_full_logits') ? fields.existingFile('onnx_full_logits', dir) : undefined,
    tokenizerPath: fields.existingFile('tokenizer', dir),
    vocabSize: fields.positiveInt('vocab_size'),
    specialTokens: fields.specialTokens(),
    logitShift: fields.oneOf('logit_shift', LOGIT_SHIFTS),
    maxLength: fields.positiveInt('max_length'),
    trainedLength: fields.has('trained_length') ? fields.positiveInt('trained_length') : undefined,
    outputKind,
    // top_k only matters for the positions_topk head; full_logits computes its own.
    topK: outputKind === 'positions_topk' || fields.has('top_k') ? fields.positiveInt('top_k') : 0,
    languages: fields.has('languages') ? fields.stringArray('languages') : [],
  };
  for (const [role, id] of Object.entries(manifest.specialTokens)) {
    if (id !== undefined && id >= manifest.vocabSize) {
      fields.invalid(`special_tokens.${role}`, `id ${id} is outside vocab_size ${manifest.vocabSize}`);
    }
  }
  return manifest;
}

/** Typed access to the manifest's keys; each failure becomes an EngineError naming file and field. */
class ManifestFields {
  private readonly obj: Record<string, unknown>;

  constructor(
    raw: unknown,
    private readonly file: string,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new EngineError('model-invalid', `${file}: manifest must be a JSON object`);
    }
    this.obj = raw as Record<string, unknown>;
  }

  invalid(field: string, why: string): never {
    throw new EngineError('model-invalid', `${this.file}: field "${field}" ${why}`);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  private required(field: string): unknown {
    if (!this.has(field)) {
      this.invalid(field, 'is missing');
    }
    return this.obj[field];
  }

  string(field: string): string {
    const value = this.required(field);
    if (typeof value !== 'string' || value.length === 0) {
      this.invalid(field, 'must be a non-empty string');
    }
    return value;
  }

  stringArray(field: string): string[] {
    const value = this.required(field);
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      this.invalid(field, 'must be an array of strings');
    }
    return value as string[];
  }

  positiveInt(field: string): number {
    const value = this.required(field);
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      this.invalid(field, `must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.required(field);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.invalid(
        field,
        `has unknown value ${JSON.stringify(value)} (expected one of ${allowed.join(', ')})`,
      );
    }
    return value as T;
  }

  existingFile(field: string, dir: string): string {
    const name = this.string(field);
    const full = path.resolve(dir, name);
    if (!fs.existsSync(full) || !fs.statSync(full).isFile()) {
      throw new EngineError(
        'model-missing',
        `${this.file}: field "${field}" names ${full}, which does not exist`,
      );
    }
    return full;
  }

  specialTokens(): SpecialTokens {
    const value = this.required('special_tokens');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.invalid('special_tokens', 'must be an object');
    }
    const tokens = value as Record<string, unknown>;
    const id = (role: string, required: boolean): number | undefined => {
      const v = tokens[role];
      if (v === undefined || v === null) {
        if (required) {
          this.invalid(`special_tokens.${role}`, 'is missing');
        }
        return undefined;
      }
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        this.invalid(`special_tokens.${role}`, `must be a token id, got ${JSON.stringify(v)}`);
      }
      return v;
    };
    return {
      mask: id('mask', true)!,
      pad: id('pad', true)!,
      end: id('end', true)!,
      eos: id('eos', false),
      bos: id('bos', false),
    };
  }
}
