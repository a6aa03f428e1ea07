// The user-facing sentence for an engine failure, and the outcome word for the log. Engine messages
// often name the folder already (e.g. "model folder not found: /x"): the folder is added only when
// the message does not carry it, so the user never reads the same path twice.
import type { ErrorCode } from '../engine/protocol';
import type { Outcome } from './log';

export function describeError(
  code: ErrorCode | undefined,
  message: string,
  modelFolder: string,
  crashed: boolean,
): { text: string; outcome: Outcome } {
  if (crashed) {
    return {
      text: `the engine process crashed during the request (${message}). Try again.`,
      outcome: 'error',
    };
  }
  const where = (lead: string) =>
    message.includes(modelFolder) ? `${lead}: ${message}` : `${lead} in ${modelFolder}: ${message}`;
  switch (code) {
    case 'model-missing':
    case 'not-loaded':
      return { text: where('no model found'), outcome: 'no model' };
    case 'model-invalid':
      return { text: where('the model is invalid'), outcome: 'error' };
    case 'tokenizer-mismatch':
      return { text: where('the tokenizer does not match the model'), outcome: 'error' };
    case 'too-long':
      return {
        text: `the selection is too long for the model's context window: ${message}. Select a smaller region.`,
        outcome: 'error',
      };
    case 'bad-request':
      return { text: `invalid request or settings: ${message}`, outcome: 'error' };
    default:
      return { text: `engine error: ${message}`, outcome: 'error' };
  }
}
