// Drop-in ONNX folders: a Hugging Face style folder (config.json, tokenizer.json, optional
// tokenizer_config.json, and an ONNX graph with a full `logits` output, laid out as Optimum /
// transformers.js do: onnx/model.onnx, onnx/model_quantized.onnx, ...) runs without conversion. The
// manifest that model.json would hold is inferred from those files (docs/model-format.md, "Drop-in
// folders"); what cannot be inferred is named precisely, with the override file that supplies it.
//
// The rules mirror the Python exporter's (models/export/checkpoint.py), so a checkpoint gets the same mask
// token and logit shift whether it is converted or dropped in.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from './errors';
import type { LogitShift, ModelManifest, SpecialTokens } from './manifest';

/** Optional file in the folder that supplies (or overrides) what the inference cannot know. */
export const OVERRIDE_FILE = 'diffusion-infill.json';

/** Graph files tried in order: the unquantised export first, then the usual quantised names. */
export const GRAPH_CANDIDATES = [
  'onnx/model.onnx',
  'model.onnx',
  'onnx/model_fp16.onnx',
  'onnx/model_quantized.onnx',
  'onnx/model_int8.onnx',
  'onnx/model_q4.onnx',
  'onnx/model_q4f16.onnx',
  'onnx/model_uint8.onnx',
];

const MASK_TOKEN_NAMES = ['<|mask|>', '<|mdm_mask|>', '<mask>', '[MASK]', '<|MASK|>'];
const LLADA_MASK = 126336;
const DEFAULT_MAX_LENGTH = 4096;
/** model_type -> logit shift (the exporter's table; a2d-*: dllm's MDLM default right_shift_logits=False). */
const SHIFT_BY_MODEL_TYPE: Record<string, LogitShift> = {
  qwen2: 'shifted',
  dream: 'shifted',
  llada: 'none',
  llama: 'none',
  qwen3: 'none',
  'a2d-qwen3': 'none',
  'a2d-qwen2': 'none',
  'a2d-llama': 'none',
};
const BLOCK_DIFFUSION_MARKERS = ['bd3lm', 'sdar', 'fast_dllm', 'fast-dllm', 'llada2', 'block_diffusion'];

type Json = Record<string, unknown>;

/** True when `dir` has no model.json but looks like a drop-in folder (config + tokenizer + a graph). */
export function isDropInFolder(dir: string): boolean {
  return (
    fs.existsSync(path.join(dir, 'config.json')) &&
    fs.existsSync(path.join(dir, 'tokenizer.json')) &&
    GRAPH_CANDIDATES.some((g) => fs.existsSync(path.join(dir, g)))
  );
}

function readJson(file: string, required: boolean): Json {
  if (!fs.existsSync(file)) {
    if (required) {
      throw new EngineError('model-missing', `${file}: not found`);
    }
    return {};
  }
  try {
    const value: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('not a JSON object');
    }
    return value as Json;
  } catch (err) {
    throw new EngineError('model-invalid', `${file}: not valid JSON (${(err as Error).message})`);
  }
}

function firstInt(value: unknown): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function tokenName(value: unknown): string | undefined {
  const v = typeof value === 'object' && value !== null ? (value as Json).content : value;
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

interface TokenizerIds {
  ids: Map<string, number>;
  added: Map<string, number>;
  vocabSize: number;
}

function tokenizerIds(file: string): TokenizerIds {
  const data = readJson(file, true);
  const ids = new Map<string, number>();
  const added = new Map<string, number>();
  const vocab = (data.model as Json | undefined)?.vocab;
  if (Array.isArray(vocab)) {
    vocab.forEach((piece, i) => ids.set(String((piece as unknown[])[0]), i));
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [k, v] of Object.entries(vocab as Json)) {
      ids.set(k, Number(v));
    }
  } else {
    throw new EngineError('model-invalid', `${file}: field "model.vocab" is missing or not a vocabulary`);
  }
  for (const t of (data.added_tokens as Json[] | undefined) ?? []) {
    ids.set(String(t.content), Number(t.id));
    added.set(String(t.content), Number(t.id));
  }
  let max = -1;
  for (const id of ids.values()) {
    max = Math.max(max, id);
  }
  return { ids, added, vocabSize: max + 1 };
}

/** Builds the manifest of a drop-in folder; `notes` says where each inferred value came from. */
export function inferDropInManifest(modelDir: string): ModelManifest {
  const dir = path.resolve(modelDir);
  const configFile = path.join(dir, 'config.json');
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokConfigFile = path.join(dir, 'tokenizer_config.json');
  const overrideFile = path.join(dir, OVERRIDE_FILE);
  const config = readJson(configFile, true);
  const tokConfig = readJson(tokConfigFile, false);
  const override = readJson(overrideFile, false);
  const tok = tokenizerIds(tokenizerFile);
  const notes: string[] = [];
  const ask = (what: string, why: string, example: string): never => {
    throw new EngineError(
      'model-invalid',
      `${dir}: drop-in ONNX folder: cannot infer ${what}: ${why}. Add ${example} to ${overrideFile}`,
    );
  };

  const modelType = String(config.model_type ?? '').toLowerCase();
  const names = [modelType, String(config._name_or_path ?? ''), path.basename(dir)].concat(
    ((config.architectures as unknown[] | undefined) ?? []).map(String),
  );
  for (const name of names) {
    const marker = BLOCK_DIFFUSION_MARKERS.find((m) => name.toLowerCase().includes(m));
    if (marker) {
      throw new EngineError(
        'model-invalid',
        `${configFile}: "${name}" is a block-diffusion model (${marker}): it attends causally across blocks and ` +
          'never sees the text after the hole, so it cannot infill',
      );
    }
  }

  const graphName =
    typeof override.onnx === 'string'
      ? override.onnx
      : GRAPH_CANDIDATES.find((g) => fs.existsSync(path.join(dir, g)));
  if (!graphName || !fs.existsSync(path.join(dir, graphName))) {
    ask('the graph', `none of ${GRAPH_CANDIDATES.join(', ')} exists`, '{"onnx": "path/to/model.onnx"}');
  }
  notes.push(`graph ${graphName}`);

  const byName = (name: string | undefined, source: string): number | undefined => {
    if (name === undefined) return undefined;
    const id = tok.ids.get(name);
    if (id === undefined) {
      throw new EngineError('tokenizer-mismatch', `${source}: token "${name}" is not in ${tokenizerFile}`);
    }
    return id;
  };

  // Mask: override, config mask_token_id, tokenizer_config mask_token, an added token with a mask name,
  // LLaDA's fixed id.
  let mask = firstInt(override.mask_token_id);
  let maskFrom = `${OVERRIDE_FILE} "mask_token_id"`;
  if (mask === undefined && firstInt(config.mask_token_id) !== undefined) {
    mask = firstInt(config.mask_token_id);
    maskFrom = 'config.json "mask_token_id"';
  }
  if (mask === undefined) {
    mask = byName(tokenName(tokConfig.mask_token), tokConfigFile);
    maskFrom = 'tokenizer_config.json "mask_token"';
  }
  if (mask === undefined) {
    const found = MASK_TOKEN_NAMES.find((n) => tok.added.has(n));
    mask = found === undefined ? undefined : tok.added.get(found);
    maskFrom = `added token ${found}`;
  }
  if (mask === undefined && modelType === 'llada') {
    mask = LLADA_MASK;
    maskFrom = 'LLaDA default';
  }
  if (mask === undefined) {
    return ask(
      'the mask token',
      `config.json has no "mask_token_id", tokenizer_config.json no "mask_token", and tokenizer.json no added ` +
        `token named ${MASK_TOKEN_NAMES.join(' / ')}`,
      '{"mask_token_id": ID}',
    );
  }
  notes.push(`mask ${mask} (${maskFrom})`);

  // Logit shift: override, config right_shift_logits / logit_shift, the model_type table.
  let shift: LogitShift | undefined;
  let shiftFrom = '';
  if (override.logit_shift === 'none' || override.logit_shift === 'shifted') {
    [shift, shiftFrom] = [override.logit_shift, `${OVERRIDE_FILE} "logit_shift"`];
  } else if (typeof config.right_shift_logits === 'boolean') {
    [shift, shiftFrom] = [config.right_shift_logits ? 'shifted' : 'none', 'config.json "right_shift_logits"'];
  } else if (config.logit_shift === 'none' || config.logit_shift === 'shifted') {
    [shift, shiftFrom] = [config.logit_shift, 'config.json "logit_shift"'];
  } else if (SHIFT_BY_MODEL_TYPE[modelType]) {
    [shift, shiftFrom] = [SHIFT_BY_MODEL_TYPE[modelType], `model_type "${modelType}"`];
  }
  if (shift === undefined) {
    return ask(
      'the logit shift',
      `model_type "${String(config.model_type)}" is not one whose training convention is known ` +
        `(${Object.keys(SHIFT_BY_MODEL_TYPE).join(', ')})`,
      '{"logit_shift": "none"} (LLaDA / MDLM style) or {"logit_shift": "shifted"} (Dream style)',
    );
  }
  notes.push(`logit_shift ${shift} (${shiftFrom})`);

  const eos = firstInt(config.eos_token_id) ?? byName(tokenName(tokConfig.eos_token), tokConfigFile);
  const pad =
    firstInt(override.pad_token_id) ??
    firstInt(config.pad_token_id) ??
    byName(tokenName(tokConfig.pad_token), tokConfigFile) ??
    eos;
  const end = firstInt(override.end_token_id) ?? eos ?? pad;
  if (pad === undefined || end === undefined) {
    return ask(
      'the end / pad token',
      'config.json has no "eos_token_id" / "pad_token_id" and tokenizer_config.json no "eos_token" / "pad_token"',
      '{"end_token_id": ID, "pad_token_id": ID}',
    );
  }
  const bos = firstInt(config.bos_token_id) ?? byName(tokenName(tokConfig.bos_token), tokConfigFile);
  const special: SpecialTokens = { mask, pad, end };
  if (eos !== undefined) special.eos = eos;
  if (bos !== undefined) special.bos = bos;
  for (const [role, id] of Object.entries(special)) {
    if (id !== undefined && id >= tok.vocabSize) {
      throw new EngineError(
        'tokenizer-mismatch',
        `${dir}: special token ${role} = ${id} is outside the tokenizer's ${tok.vocabSize} tokens`,
      );
    }
  }
  const configVocab = firstInt(config.vocab_size);
  if (configVocab !== undefined && configVocab < tok.vocabSize) {
    throw new EngineError(
      'tokenizer-mismatch',
      `${dir}: tokenizer/model vocabulary mismatch: tokenizer.json has ${tok.vocabSize} tokens but config.json ` +
        `"vocab_size" is ${configVocab}`,
    );
  }
  notes.push(`vocabulary ${tok.vocabSize} tokens (tokenizer.json)`);

  const maxPos = firstInt(override.max_length) ?? firstInt(config.max_position_embeddings);
  const maxLength = Math.min(maxPos ?? DEFAULT_MAX_LENGTH, DEFAULT_MAX_LENGTH);
  return {
    dir,
    name: path.basename(dir),
    onnxPath: path.join(dir, graphName!),
    tokenizerPath: tokenizerFile,
    vocabSize: tok.vocabSize,
    specialTokens: special,
    logitShift: shift,
    maxLength: firstInt(override.max_length) ?? maxLength,
    outputKind: 'full_logits',
    topK: 0,
    languages: [],
    inferred: notes,
  };
}
