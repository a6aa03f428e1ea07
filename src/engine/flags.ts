// Command-line flags for engine settings, shared by every CLI command that runs the engine (infill,
// batch, and the evaluation commands built on the batch runner).
import type { ParseArgsConfig } from 'node:util';
import type { BatchSettings } from './batch';
import type { EngineLoadOptions } from './engine';
import type {
  EndRuleName,
  ExecutionProviderChoice,
  LengthRuleName,
  SamplerOptions,
  StrategyName,
} from './protocol';
import { END_RULES } from './sampler/endRule';
import { LENGTH_RULES } from './sampler/score';
import { DEFAULT_SAMPLER_OPTIONS, STRATEGIES } from './sampler/options';
import { REQUEST_DEFAULTS } from './window';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export const ENGINE_FLAGS: OptionSpecs = {
  model: { type: 'string' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  'full-logits': { type: 'boolean' },
  strategy: { type: 'string' },
  steps: { type: 'string' },
  threshold: { type: 'string' },
  'entropy-bound': { type: 'string' },
  temperature: { type: 'string' },
  'block-size': { type: 'string' },
  'guard-certainty': { type: 'string' },
  'no-prior': { type: 'boolean' },
  'no-guard': { type: 'boolean' },
  'no-remask': { type: 'boolean' },
  'no-parse-remask': { type: 'boolean' },
  'end-anywhere': { type: 'boolean' },
  'end-rule': { type: 'string' },
  'length-candidates': { type: 'string' },
  'length-rule': { type: 'string' },
  candidates: { type: 'string' },
  'candidate-temperature': { type: 'string' },
  'unsure-below': { type: 'string' },
  seed: { type: 'string' },
  'canvas-tokens': { type: 'string' },
  'canvas-slack': { type: 'string' },
  'canvas-slack-min': { type: 'string' },
  'default-canvas': { type: 'string' },
  'prefix-budget': { type: 'string' },
  'suffix-budget': { type: 'string' },
};

export const ENGINE_FLAGS_HELP = `Model:
  --model DIR              model folder with model.json (required)
  --ep auto|cpu|cuda|webgpu|dml|coreml   execution provider (default auto: cuda if installed, webgpu on a
                           hardware adapter, dml/coreml, else cpu)
  --threads N              onnxruntime intra-op threads (default 0 = onnxruntime's choice)
  --full-logits            run the manifest's onnx_full_logits graph (debugging)
Sampler:
  --strategy NAME          ${STRATEGIES.join(' | ')} (default ${DEFAULT_SAMPLER_OPTIONS.strategy})
  --steps N                step budget of the confidence/margin/entropy schedules (default ${DEFAULT_SAMPLER_OPTIONS.steps})
  --threshold TAU          confidence threshold of threshold/guarded (default ${DEFAULT_SAMPLER_OPTIONS.threshold})
  --entropy-bound GAMMA    entropy bound of entropy-bounded, nats (default ${DEFAULT_SAMPLER_OPTIONS.entropyBound})
  --temperature T          0 = greedy (default); >0 samples the top-k, seeded
  --block-size N           semi-autoregressive block size, 0 = off (default ${DEFAULT_SAMPLER_OPTIONS.blockSize})
  --guard-certainty P      confidence above which the guard lets neighbours commit together (default ${DEFAULT_SAMPLER_OPTIONS.guardCertainty})
  --no-prior               guarded: no structure-aware position prior
  --no-guard               guarded: no dependency guard
  --no-remask              guarded: no late remasking (neither low-confidence nor parse errors)
  --no-parse-remask        guarded: no parse-error remasking
  --end-rule RULE          ${END_RULES.join(' | ')}: where end tokens may be committed (default ${DEFAULT_SAMPLER_OPTIONS.endRule}:
                           where the whole tail after it has end evidence >= threshold, else at the rightmost mask)
  --end-anywhere           same as --end-rule anywhere (the raw proposal everywhere)
  --length-candidates K    canvas lengths tried in one batch on the first pass, 1 = off (default ${DEFAULT_SAMPLER_OPTIONS.lengthCandidates};
                           ignored with an explicit --canvas-tokens)
  --length-rule RULE       ${LENGTH_RULES.join(' | ')}: how the length search ranks lengths (default ${DEFAULT_SAMPLER_OPTIONS.lengthRule})
  --candidates N           completions decoded in one batch: best lengths, then sampled copies (default ${DEFAULT_SAMPLER_OPTIONS.candidates})
  --candidate-temperature T  temperature of the sampled copies (default ${DEFAULT_SAMPLER_OPTIONS.candidateTemperature})
  --unsure-below P         a completion whose geometric-mean confidence is below P is reported unsure (default ${DEFAULT_SAMPLER_OPTIONS.unsureBelow})
  --seed N                 PRNG seed for temperature > 0 (default ${DEFAULT_SAMPLER_OPTIONS.seed})
Window:
  --canvas-tokens N        canvas length in tokens (overrides selection-based sizing)
  --canvas-slack F         extra canvas beyond the selection's tokens, fraction (default ${REQUEST_DEFAULTS.canvasSlack})
  --canvas-slack-min N     ... plus at least this many tokens (default ${REQUEST_DEFAULTS.canvasSlackMin})
  --default-canvas N       canvas length without a selection (default ${REQUEST_DEFAULTS.defaultCanvasTokens})
  --prefix-budget N        prefix context tokens (default ${REQUEST_DEFAULTS.prefixBudget})
  --suffix-budget N        suffix context tokens (default ${REQUEST_DEFAULTS.suffixBudget})`;

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

function num(values: FlagValues, flag: string): number | undefined {
  const v = values[flag];
  if (v === undefined) {
    return undefined;
  }
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) {
    throw new FlagError(`--${flag} needs a number, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function loadOptionsFromFlags(values: FlagValues): EngineLoadOptions {
  const model = values.model;
  if (typeof model !== 'string') {
    throw new FlagError('--model DIR is required');
  }
  const ep = (values.ep ?? 'auto') as string;
  if (!['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'].includes(ep)) {
    throw new FlagError(`--ep must be auto, cpu, cuda, webgpu, dml or coreml, got ${ep}`);
  }
  return {
    modelDir: model,
    executionProvider: ep as ExecutionProviderChoice,
    threads: num(values, 'threads') ?? 0,
    useFullLogitsGraph: values['full-logits'] === true,
  };
}

export function samplerFromFlags(values: FlagValues): Partial<SamplerOptions> {
  const sampler: Partial<SamplerOptions> = {};
  if (values.strategy !== undefined) {
    if (!STRATEGIES.includes(values.strategy as StrategyName)) {
      throw new FlagError(
        `--strategy must be one of ${STRATEGIES.join(', ')}, got ${String(values.strategy)}`,
      );
    }
    sampler.strategy = values.strategy as StrategyName;
  }
  sampler.steps = num(values, 'steps');
  sampler.threshold = num(values, 'threshold');
  sampler.entropyBound = num(values, 'entropy-bound');
  sampler.temperature = num(values, 'temperature');
  sampler.blockSize = num(values, 'block-size');
  sampler.guardCertainty = num(values, 'guard-certainty');
  sampler.seed = num(values, 'seed');
  if (values['no-prior'] === true) {
    sampler.positionPrior = false;
  }
  if (values['no-guard'] === true) {
    sampler.dependencyGuard = false;
  }
  if (values['no-remask'] === true) {
    sampler.remaskLowConfidence = false;
    sampler.remaskParseErrors = false;
  }
  if (values['end-rule'] !== undefined) {
    if (!END_RULES.includes(values['end-rule'] as EndRuleName)) {
      throw new FlagError(
        `--end-rule must be one of ${END_RULES.join(', ')}, got ${String(values['end-rule'])}`,
      );
    }
    sampler.endRule = values['end-rule'] as EndRuleName;
  }
  if (values['end-anywhere'] === true) {
    sampler.endRule = 'anywhere';
  }
  if (values['length-rule'] !== undefined) {
    if (!LENGTH_RULES.includes(values['length-rule'] as LengthRuleName)) {
      throw new FlagError(
        `--length-rule must be one of ${LENGTH_RULES.join(', ')}, got ${String(values['length-rule'])}`,
      );
    }
    sampler.lengthRule = values['length-rule'] as LengthRuleName;
  }
  sampler.lengthCandidates = num(values, 'length-candidates');
  sampler.candidates = num(values, 'candidates');
  sampler.candidateTemperature = num(values, 'candidate-temperature');
  sampler.unsureBelow = num(values, 'unsure-below');
  if (values['no-parse-remask'] === true) {
    sampler.remaskParseErrors = false;
  }
  return Object.fromEntries(Object.entries(sampler).filter(([, v]) => v !== undefined));
}

export function batchSettingsFromFlags(values: FlagValues): BatchSettings {
  const settings: BatchSettings = {
    sampler: samplerFromFlags(values),
    canvasSlack: num(values, 'canvas-slack'),
    canvasSlackMin: num(values, 'canvas-slack-min'),
    defaultCanvasTokens: num(values, 'default-canvas'),
    prefixBudget: num(values, 'prefix-budget'),
    suffixBudget: num(values, 'suffix-budget'),
  };
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as BatchSettings;
}
