// How the canvas (number of masked positions) is sized for an evaluation task whose reference is
// known. The hole length is the biggest single quality lever of a masked diffusion infiller, so every
// report names the mode it used.
//   selection: as in the editor when the user selects the code to replace: the reference's token count
//              plus the request's slack (--canvas-slack, --canvas-slack-min); the default
//   oracle:    exactly the reference's token count (the "true length" upper bound)
//   fixed:     the same N tokens for every task (--canvas-tokens N, default 32), no length information
import type { BatchTask } from '../engine/batch';
import type { Encoder } from '../engine/window';

export const LENGTH_MODES = ['selection', 'oracle', 'fixed'] as const;
export type LengthMode = (typeof LENGTH_MODES)[number];

export const DEFAULT_FIXED_TOKENS = 32;

// One Encoder interface for the engine's windowing and the eval's sizing.
export type { Encoder } from '../engine/window';

export interface LengthPolicy {
  mode: LengthMode;
  /** Canvas tokens of the fixed mode. */
  fixedTokens: number;
}

export function isLengthMode(name: string): name is LengthMode {
  return (LENGTH_MODES as readonly string[]).includes(name);
}

/** The batch task for one evaluation item under a length policy. */
export function sizedTask(
  base: { task_id: string; prefix: string; suffix: string; language?: string },
  reference: string,
  policy: LengthPolicy,
  encoder: Encoder,
): BatchTask {
  switch (policy.mode) {
    case 'selection':
      // Only the selection's token count reaches the model (window.ts sizes the canvas from it).
      return reference.length > 0
        ? { ...base, selection: reference }
        : { ...base, canvas_tokens: policy.fixedTokens };
    case 'oracle':
      return { ...base, canvas_tokens: Math.max(1, encoder.encode(reference).length) };
    case 'fixed':
      return { ...base, canvas_tokens: policy.fixedTokens };
  }
}
