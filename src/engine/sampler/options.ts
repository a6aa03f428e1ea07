// Sampler defaults and validation of a request's partial options.
import { EngineError } from '../errors';
import type { SamplerOptions, StrategyName } from '../protocol';
import { END_RULES } from './endRule';
import { LENGTH_RULES } from './score';

export const STRATEGIES: readonly StrategyName[] = [
  'guarded',
  'threshold',
  'entropy-bounded',
  'confidence',
  'margin',
  'entropy',
  'sequential',
];

export const DEFAULT_SAMPLER_OPTIONS: SamplerOptions = {
  strategy: 'guarded',
  steps: 32,
  threshold: 0.9,
  entropyBound: 0.5,
  temperature: 0,
  blockSize: 32,
  positionPrior: true,
  dependencyGuard: true,
  guardCertainty: 0.98,
  remaskLowConfidence: true,
  remaskParseErrors: true,
  endRule: 'evidence',
  lengthCandidates: 4,
  lengthRule: 'mean-logprob',
  candidates: 1,
  candidateTemperature: 0.7,
  unsureBelow: 0.5,
  seed: 0,
};

/** Most canvases one request may decode in one batch (length candidates or completions). */
export const MAX_BATCH = 8;

export function resolveSamplerOptions(partial: Partial<SamplerOptions> | undefined): SamplerOptions {
  const options: SamplerOptions = { ...DEFAULT_SAMPLER_OPTIONS };
  for (const [key, value] of Object.entries(partial ?? {})) {
    if (value !== undefined) {
      (options as unknown as Record<string, unknown>)[key] = value;
    }
  }
  const bad = (field: string, why: string): never => {
    throw new EngineError('bad-request', `sampler option ${field} ${why}`);
  };
  if (!STRATEGIES.includes(options.strategy)) {
    bad('strategy', `must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(options.strategy)}`);
  }
  if (!Number.isInteger(options.steps) || options.steps < 1) {
    bad('steps', `must be a positive integer, got ${options.steps}`);
  }
  if (!(options.threshold >= 0 && options.threshold <= 1)) {
    bad('threshold', `must be within [0, 1], got ${options.threshold}`);
  }
  if (!(options.entropyBound >= 0)) {
    bad('entropyBound', `must be >= 0, got ${options.entropyBound}`);
  }
  if (!(options.temperature >= 0)) {
    bad('temperature', `must be >= 0, got ${options.temperature}`);
  }
  if (!Number.isInteger(options.blockSize) || options.blockSize < 0) {
    bad('blockSize', `must be a non-negative integer, got ${options.blockSize}`);
  }
  if (!(options.guardCertainty >= 0 && options.guardCertainty <= 1)) {
    bad('guardCertainty', `must be within [0, 1], got ${options.guardCertainty}`);
  }
  if (!END_RULES.includes(options.endRule)) {
    bad('endRule', `must be one of ${END_RULES.join(', ')}, got ${JSON.stringify(options.endRule)}`);
  }
  if (!LENGTH_RULES.includes(options.lengthRule)) {
    bad('lengthRule', `must be one of ${LENGTH_RULES.join(', ')}, got ${JSON.stringify(options.lengthRule)}`);
  }
  for (const field of ['lengthCandidates', 'candidates'] as const) {
    if (!Number.isInteger(options[field]) || options[field] < 1 || options[field] > MAX_BATCH) {
      bad(field, `must be an integer within [1, ${MAX_BATCH}], got ${options[field]}`);
    }
  }
  if (!(options.candidateTemperature >= 0)) {
    bad('candidateTemperature', `must be >= 0, got ${options.candidateTemperature}`);
  }
  if (!(options.unsureBelow >= 0 && options.unsureBelow <= 1)) {
    bad('unsureBelow', `must be within [0, 1], got ${options.unsureBelow}`);
  }
  if (!Number.isFinite(options.seed)) {
    bad('seed', `must be a number, got ${options.seed}`);
  }
  return options;
}
