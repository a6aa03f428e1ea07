// Entry of the engine child process (forked by EngineClient). onnxruntime's run() blocks the event loop
// and a native crash takes the process down, so inference lives here and never in the extension host.
// Handles ToEngine messages one at a time, in order; answers with FromEngine messages.
import { InfillEngine } from '../engine';
import { isAbortError, toEngineError } from '../errors';
import { deviceReport } from '../deviceReport';
import { describeReport } from '../deviceReportText';
import type {
  FromEngine,
  InfillRequest,
  LoadOptions,
  RefineRequest,
  ScoreRequest,
  Snapshot,
  ToEngine,
} from '../protocol';
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
      isTraced: () => traced.has(request.id),
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
    traced.delete(request.id);
    lastFinishedId = Math.max(lastFinishedId, request.id);
  }
}

/** Score and Refine: same cancellation and error path as infill; replies carry the request id. */
async function operation(request: ScoreRequest | RefineRequest, kind: 'score' | 'refine'): Promise<void> {
  if (cancelled.delete(request.id)) {
    lastFinishedId = Math.max(lastFinishedId, request.id);
    send({ type: 'cancelled', requestId: request.id });
    return;
  }
  if (!engine) {
    send({ type: 'error', requestId: request.id, code: 'not-loaded', message: 'no model loaded' });
    return;
  }
  const hooks = {
    onSnapshot: (snapshot: Snapshot) => send({ type: 'snapshot', snapshot }),
    isCancelled: () => cancelled.has(request.id),
    betweenSteps: yieldToEvents,
  };
  try {
    if (kind === 'score') {
      const result = await scoreRegion(engine, request as ScoreRequest, hooks);
      send({ type: 'scored', requestId: request.id, result });
    } else {
      const result = await refineRegion(engine, request as RefineRequest, hooks);
      send({ type: 'refined', requestId: request.id, result });
    }
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
    case 'score':
      return operation(message.request, 'score');
    case 'refine':
      return operation(message.request, 'refine');
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
