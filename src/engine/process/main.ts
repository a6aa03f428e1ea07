// Entry of the engine child process (forked by EngineClient). onnxruntime's run() blocks the event loop
// and a native crash takes the process down, so inference lives here and never in the extension host.
// Handles ToEngine messages one at a time, in order; answers with FromEngine messages.
import { InfillEngine } from '../engine';
import { isAbortError, toEngineError } from '../errors';
import type { FromEngine, InfillRequest, LoadOptions, ToEngine } from '../protocol';
import { availableProviders } from '../session';

let engine: InfillEngine | undefined;
const cancelled = new Set<number>();
/** Request ids grow; a cancel for an id at or below this one arrived after its answer and is dropped. */
let lastFinishedId = 0;
/** Messages are handled strictly in order; cancels bypass the queue so they reach a running infill. */
let queue: Promise<void> = Promise.resolve();

function send(message: FromEngine): void {
  process.send?.(message);
}

/** Yields a macrotask so that IPC messages (cancel) are delivered between denoising steps. */
const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

async function load(requestId: number, options: LoadOptions): Promise<void> {
  const previous = engine;
  engine = undefined;
  await previous?.dispose();
  try {
    engine = await InfillEngine.load(options);
    send({ type: 'loaded', requestId, info: engine.info });
    if (engine.info.fallbackReason) {
      send({
        type: 'log',
        level: 'warn',
        message: `execution provider fallback: ${engine.info.fallbackReason}`,
      });
    }
  } catch (err) {
    const e = toEngineError(err);
    send({ type: 'error', requestId, code: e.code, message: e.message });
  }
}

async function infill(request: InfillRequest): Promise<void> {
  if (cancelled.delete(request.id)) {
    lastFinishedId = Math.max(lastFinishedId, request.id);
    send({ type: 'cancelled', requestId: request.id });
    return;
  }
  if (!engine) {
    send({ type: 'error', requestId: request.id, code: 'not-loaded', message: 'no model loaded' });
    return;
  }
  try {
    const result = await engine.infill(request, {
      onSnapshot: (snapshot) => send({ type: 'snapshot', snapshot }),
      isCancelled: () => cancelled.has(request.id),
      betweenSteps: yieldToEvents,
    });
    send({ type: 'result', result });
  } catch (err) {
    if (isAbortError(err)) {
      send({ type: 'cancelled', requestId: request.id });
    } else {
      const e = toEngineError(err);
      send({ type: 'error', requestId: request.id, code: e.code, message: e.message });
    }
  } finally {
    cancelled.delete(request.id);
    lastFinishedId = Math.max(lastFinishedId, request.id);
  }
}

async function handle(message: ToEngine): Promise<void> {
  switch (message.type) {
    case 'load':
      return load(message.requestId, message.options);
    case 'infill':
      return infill(message.request);
    case 'diagnose':
      send({
        type: 'diagnosis',
        requestId: message.requestId,
        providers: availableProviders(),
        inUse: engine?.info.executionProvider,
        fallbackReason: engine?.info.fallbackReason ?? engine?.info.providerNote,
      });
      return;
    case 'dispose':
      await engine?.dispose();
      process.exit(0);
      return;
    case 'cancel':
      // Handled on arrival (below); never queued.
      return;
  }
}

function requestIdOf(message: ToEngine): number | undefined {
  if (message.type === 'infill') {
    return message.request.id;
  }
  return 'requestId' in message ? message.requestId : undefined;
}

process.on('message', (message: ToEngine) => {
  if (message.type === 'cancel') {
    if (message.requestId > lastFinishedId) {
      cancelled.add(message.requestId);
    }
    return;
  }
  queue = queue
    .then(() => handle(message))
    .catch((err: unknown) => {
      const e = toEngineError(err);
      send({ type: 'error', requestId: requestIdOf(message), code: e.code, message: e.message });
    });
});

// The parent going away (editor closed, crash) must not leave an orphan holding the model in memory.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready' });
