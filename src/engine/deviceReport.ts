// Diagnose Device's measurement: the loaded model's forward pass timed on every execution provider that
// loads here, side by side, so a user sees what the GPU buys. The provider in use is timed through the
// engine's own session; each other one gets a temporary session (released at once), created with that
// provider alone so a failure is reported as such instead of silently timing the CPU again.
import type { InfillEngine } from './engine';
import type { DeviceReport, ProviderTiming } from './protocol';
import { platformGpuProviders, type ProviderName } from './providers';
import { ModelSession } from './session';

/** Window of the timed pass: a typical infill window, clipped to the model. */
const WINDOW = 256;
const ROWS = 64;
const RUNS = 3;

export async function deviceReport(engine: InfillEngine, threads: number): Promise<DeviceReport> {
  const manifest = engine.manifest;
  const length = Math.min(WINDOW, manifest.maxLength);
  const rows = Math.min(ROWS, length - 2);
  const start = Math.floor((length - rows) / 2);
  const text = engine.tokenizer.encode('def total(items):\n    return sum(item.price for item in items)\n\n');
  const ids = Array.from({ length }, (_, i) =>
    i >= start && i < start + rows ? manifest.specialTokens.mask : text[i % text.length],
  );
  const positions = Array.from({ length: rows }, (_, i) => start + i);
  const inUse = engine.session.provider;
  const timings: ProviderTiming[] = [];
  for (const provider of ['cpu', ...platformGpuProviders()] as ProviderName[]) {
    if (provider === inUse) {
      timings.push({
        provider,
        ms: await timeForward(engine.session, ids, positions),
        adapter: engine.session.device.adapter,
        precision: engine.session.device.precision,
        note: ['in use', ...engine.session.device.notes].join('; '),
      });
      continue;
    }
    timings.push(await timeOther(engine, provider, threads, ids, positions));
  }
  return {
    adapter: engine.session.device.adapter,
    precision: engine.session.device.precision,
    attempts: engine.session.device.attempts,
    notes: engine.session.device.notes,
    windowLength: length,
    timings,
  };
}

async function timeOther(
  engine: InfillEngine,
  provider: ProviderName,
  threads: number,
  ids: number[],
  positions: number[],
): Promise<ProviderTiming> {
  let session: ModelSession;
  try {
    session = await ModelSession.create(engine.manifest, { executionProvider: provider, threads });
  } catch (err) {
    return { provider, note: `did not load: ${(err as Error).message}` };
  }
  try {
    if (session.provider !== provider) {
      const why = session.device.attempts.find((a) => a.provider === provider)?.reason;
      return { provider, note: `did not load: ${why ?? 'unknown reason'}` };
    }
    return {
      provider,
      ms: await timeForward(session, ids, positions),
      adapter: session.device.adapter,
      precision: session.device.precision,
      note: session.device.notes.join(' ') || undefined,
    };
  } finally {
    await session.release();
  }
}

/** Median of RUNS passes after one warm-up pass (a GPU compiles its shaders on the first). */
async function timeForward(session: ModelSession, ids: number[], positions: number[]): Promise<number> {
  await session.forward(ids, positions);
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await session.forward(ids, positions);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)] * 10) / 10;
}
