// Errors the engine reports to its callers. The code travels over the process boundary unchanged
// (protocol.ts ErrorCode), so the editor can show a specific message for each failure.
import type { ErrorCode } from './protocol';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The error an aborted infill rejects with (same name as the DOM AbortError, so callers can test `name`). */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(message = 'infill cancelled') {
    super(message);
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** Turns anything thrown into an EngineError, keeping the code of one that already is. */
export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) {
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EngineError('internal', message);
}
