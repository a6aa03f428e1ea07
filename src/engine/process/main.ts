// Entry of the engine child process (forked by EngineClient). onnxruntime's run() blocks the event loop
// and a native crash takes the process down, so inference lives here and never in the extension host.
// Handles ToEngine messages one at a time, in order; answers with FromEngine messages.
import { InfillEngine } from '../engine';
import { isAbortError, toEngineError } from '../errors';
import { deviceReport } from '../deviceReport';
import { describeReport } from '../deviceReportText';
import type { FromEngine, LoadOptions, Snapshot, ToEngine } from '../protocol';
import { refineRegion, scoreRegion } from '../score';
import { describeAttempts } from '../providers';
import { availableProviders } from '../session';

let engine: InfillEngine | undefined;
let engineThreads = 0;
const cancelled = new Set<number>();
/** Running requests asked to trace from now on (the visualiser opened mid-request). */
const traced = new Set<number>();
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
    engineThreads = options.threads;
    send({ type: 'loaded', requestId, info: engine.info });
    if (engine.info.fallbackReason) {
      send({
        type: 'log',
        level: 'warn',
        message: `execution provider fallback: ${engine.info.fallbackReason}`,
      });
    }
    const info = engine.info;
    send({
      type: 'log',
      level: 'info',
      message:
        `execution provider ${info.executionProvider}` +
        (info.adapter ? ` on ${info.adapter}` : '') +
        (info.precision ? `, ${info.precision}` : '') +
        (info.providerNote ? ` (${info.providerNote})` : ''),
    });
  } catch (err) {
    const e = toEngineError(err);
    send({ type: 'error', requestId, code: e.code, message: e.message });
  }
}

/** What a running request may ask of the process: its snapshots out, whether it was cancelled or is traced. */
interface RequestHooks {
  onSnapshot: (snapshot: Snapshot) => void;
  isCancelled: () => boolean;
  betweenSteps: () => Promise<void>;
  isTraced: () => boolean;
}

/**
 * One request's lifecycle, the same for infill, score and refine: a cancel that arrived before it, no
 * model loaded, the run and its reply, a cancel or error during it, and the bookkeeping after it. Every
 * reply carries the request id.
 */
async function serve(
  requestId: number,
  run: (engine: InfillEngine, hooks: RequestHooks) => Promise<FromEngine>,
): Promise<void> {
  if (cancelled.delete(requestId)) {
    lastFinishedId = Math.max(lastFinishedId, requestId);
    send({ type: 'cancelled', requestId });
    return;
  }
  if (!engine) {
    send({ type: 'error', requestId, code: 'not-loaded', message: 'no model loaded' });
    return;
  }
  try {
    send(
      await run(engine, {
        onSnapshot: (snapshot) => send({ type: 'snapshot', snapshot }),
        isCancelled: () => cancelled.has(requestId),
        betweenSteps: yieldToEvents,
        isTraced: () => traced.has(requestId),
      }),
    );
  } catch (err) {
    if (isAbortError(err)) {
      send({ type: 'cancelled', requestId });
    } else {
      const e = toEngineError(err);
      send({ type: 'error', requestId, code: e.code, message: e.message });
    }
  } finally {
    cancelled.delete(requestId);
    traced.delete(requestId);
    lastFinishedId = Math.max(lastFinishedId, requestId);
  }
}

async function handle(message: ToEngine): Promise<void> {
  switch (message.type) {
    case 'load':
      return load(message.requestId, message.options);
    case 'infill': {
      const request = message.request;
      return serve(request.id, async (e, hooks) => ({
        type: 'result',
        result: await e.infill(request, hooks),
      }));
    }
    case 'score': {
      const request = message.request;
      return serve(request.id, async (e, hooks) => ({
        type: 'scored',
        requestId: request.id,
        result: await scoreRegion(e, request, hooks),
      }));
    }
    case 'refine': {
      const request = message.request;
      return serve(request.id, async (e, hooks) => ({
        type: 'refined',
        requestId: request.id,
        result: await refineRegion(e, request, hooks),
      }));
    }
    case 'diagnose': {
      // With a model loaded, time it on every provider that loads (seconds on a big model: on request only).
      const report = engine ? await deviceReport(engine, engineThreads) : undefined;
      if (report) {
        for (const line of describeReport(report)) {
          send({ type: 'log', level: 'info', message: `Diagnose Device: ${line}` });
        }
      }
      send({
        type: 'diagnosis',
        requestId: message.requestId,
        providers: availableProviders(),
        inUse: engine?.info.executionProvider,
        // The providers skipped on the way to the one in use (forced choice or auto); notes such as a
        // software adapter are in the report, not here.
        fallbackReason: engine?.info.fallbackReason ?? describeAttempts(engine?.info.attempts ?? []),
        report,
      });
      return;
    }
    case 'dispose':
      await engine?.dispose();
      process.exit(0);
      return;
    case 'cancel':
    case 'trace':
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
  if (message.type === 'trace') {
    if (message.requestId > lastFinishedId) {
      traced.add(message.requestId);
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
