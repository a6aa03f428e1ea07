// EngineClient against a real forked engine process and the fixture model: protocol round trip,
// lazy loading, diagnose, load errors, cancellation, crash and restart, idle unload.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { EngineClient, type EngineState } from '../../src/engine/client';
import { EngineError, isAbortError } from '../../src/engine/errors';
import type { FromEngine, InfillRequest, LoadOptions, Snapshot, ToEngine } from '../../src/engine/protocol';
import { ENGINE_ENTRY, FIXTURE_DIR, fixtureSkip, tempDir } from './helpers';

const LOAD: LoadOptions = { modelDir: FIXTURE_DIR, executionProvider: 'cpu', threads: 1 };
const REQUEST: Omit<InfillRequest, 'id'> = {
  prefix: 'def add(a, b):\n',
  suffix: '\n\nprint(add(1, 2))\n',
  selectionText: '    return a + b',
  languageId: 'python',
};
/** A slow request: one token per step, so there is time to cancel or kill mid-infill. */
const SLOW: Omit<InfillRequest, 'id'> = {
  ...REQUEST,
  canvasTokens: 48,
  sampler: { strategy: 'sequential', blockSize: 0 },
};

const clients: EngineClient[] = [];
function client(idleUnloadMs?: number): EngineClient {
  const c = new EngineClient({ enginePath: ENGINE_ENTRY, idleUnloadMs });
  clients.push(c);
  return c;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('engine client and child process', { skip: fixtureSkip() }, () => {
  after(() => clients.forEach((c) => c.dispose()));

  it('round trip: load, infill with snapshots, result; states reported', async () => {
    const c = client();
    const states: EngineState[] = [];
    c.onDidChangeState((s) => states.push(s));
    const info = await c.load(LOAD);
    assert.equal(info.executionProvider, 'cpu');
    assert.ok(info.vocabSize > 0 && info.maxLength > 0);
    const snapshots: Snapshot[] = [];
    const result = await c.infill(REQUEST, (s) => snapshots.push(s));
    assert.equal(typeof result.completion, 'string');
    assert.ok(snapshots.length >= 1);
    assert.equal(snapshots[snapshots.length - 1].text, result.completion);
    assert.ok(snapshots.every((s) => s.requestId === result.requestId));
    assert.deepEqual(states, ['loading', 'ready', 'busy', 'ready']);
  });

  it('loads lazily from setLoadOptions; diagnose lists providers', async () => {
    const c = client();
    c.setLoadOptions(LOAD);
    const result = await c.infill(REQUEST, () => undefined);
    assert.ok(result.nfe >= 1);
    const d = await c.diagnose();
    assert.ok(d.providers.includes('cpu'));
    assert.equal(d.inUse, 'cpu');
  });

  it('without load options an infill rejects with not-loaded', async () => {
    await assert.rejects(
      client().infill(REQUEST, () => undefined),
      (e: unknown) => e instanceof EngineError && e.code === 'not-loaded',
    );
  });

  it('a broken model folder rejects with its error code; state error', async () => {
    const c = client();
    await assert.rejects(
      c.load({ ...LOAD, modelDir: tempDir('nomodel') }),
      (e: unknown) => e instanceof EngineError && e.code === 'model-missing' && /model\.json/.test(e.message),
    );
    assert.equal(c.state, 'error');
    // The same client recovers with a good model.
    await c.load(LOAD);
    assert.equal(c.state, 'ready');
  });

  it('cancellation: abort rejects with AbortError; the next infill works', async () => {
    const c = client();
    await c.load(LOAD);
    const controller = new AbortController();
    let seen = 0;
    const pending = c.infill(
      SLOW,
      () => {
        if (++seen === 2) {
          controller.abort();
        }
      },
      controller.signal,
    );
    await assert.rejects(pending, (e: unknown) => isAbortError(e));
    const after = await c.infill(REQUEST, () => undefined);
    assert.ok(after.nfe >= 1);
    assert.equal(c.state, 'ready');
  });

  it('an already aborted signal rejects at once', async () => {
    const c = client();
    c.setLoadOptions(LOAD);
    await assert.rejects(
      c.infill(REQUEST, () => undefined, AbortSignal.abort()),
      (e: unknown) => isAbortError(e),
    );
  });

  it('crash: killing the child mid-infill rejects with internal and the next infill restarts it', async () => {
    const c = client();
    await c.load(LOAD);
    const crashes: { code: number | null; signal: string | null }[] = [];
    c.onDidCrash((info) => crashes.push(info));
    const pending = c.infill(SLOW, () => c.kill());
    await assert.rejects(
      pending,
      (e: unknown) => e instanceof EngineError && e.code === 'internal' && /crashed/.test(e.message),
    );
    assert.equal(crashes.length, 1);
    assert.equal(crashes[0].signal, 'SIGKILL');
    assert.equal(c.state, 'error');
    const result = await c.infill(REQUEST, () => undefined);
    assert.ok(result.nfe >= 1);
    assert.equal(c.model?.name !== undefined, true);
  });

  it('idle unload: the child exits after the idle time, and comes back on the next infill', async () => {
    const c = client(300);
    await c.load(LOAD);
    let crashed = false;
    c.onDidCrash(() => (crashed = true));
    await c.infill(REQUEST, () => undefined);
    await sleep(900);
    assert.equal(c.state, 'idle');
    assert.equal(c.model, undefined);
    const result = await c.infill(REQUEST, () => undefined);
    assert.ok(result.nfe >= 1);
    assert.equal(crashed, false, 'an idle unload is not a crash');
  });

  it('requests are answered in order; engine errors carry their code', async () => {
    const c = client();
    await c.load(LOAD);
    const [a, b, bad] = await Promise.allSettled([
      c.infill(REQUEST, () => undefined),
      c.infill({ ...REQUEST, canvasTokens: 5 }, () => undefined),
      c.infill({ ...REQUEST, canvasTokens: -1 }, () => undefined),
    ]);
    assert.equal(a.status, 'fulfilled');
    assert.equal(b.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
    assert.ok(bad.reason instanceof EngineError && bad.reason.code === 'bad-request');
    if (b.status === 'fulfilled') {
      assert.equal(b.value.canvasLength, 5);
    }
  });

  it('every reply carries the id of the request it answers (load, diagnose, errors)', async () => {
    const child = fork(ENGINE_ENTRY, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    try {
      const replies: FromEngine[] = [];
      child.on('message', (m: FromEngine) => replies.push(m));
      const until = async (pred: (m: FromEngine) => boolean) => {
        for (let i = 0; i < 3000 && !replies.some(pred); i++) {
          await sleep(10);
        }
        return replies.find(pred);
      };
      assert.ok(await until((m) => m.type === 'ready'));
      const send = (m: ToEngine) => child.send(m);
      send({ type: 'load', requestId: 41, options: { ...LOAD, modelDir: tempDir('no-model-here') } });
      send({ type: 'load', requestId: 42, options: LOAD });
      send({ type: 'diagnose', requestId: 43 });
      const bad = await until((m) => m.type === 'error');
      const loaded = await until((m) => m.type === 'loaded');
      const diagnosis = await until((m) => m.type === 'diagnosis');
      assert.deepEqual(bad && 'requestId' in bad && bad.requestId, 41);
      assert.equal(loaded?.type === 'loaded' && loaded.requestId, 42);
      assert.equal(diagnosis?.type === 'diagnosis' && diagnosis.requestId, 43);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('dispose() resolves once the child process has exited', async () => {
    const c = new EngineClient({ enginePath: ENGINE_ENTRY });
    await c.load(LOAD);
    const pid = c.pid;
    assert.ok(pid);
    await c.dispose();
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the engine process is gone when dispose() resolves');
  });

  it('a new idle-unload delay mid-infill does not stop the request', async () => {
    const c = client(60_000);
    await c.load(LOAD);
    let changed = false;
    const result = await c.infill(SLOW, () => {
      if (!changed) {
        changed = true;
        c.setIdleUnloadMs(50);
      }
    });
    assert.ok(changed);
    assert.equal(result.canvasLength, 48);
    await sleep(400);
    assert.equal(c.state, 'idle', 'the new delay applies to the idle time after the request');
  });
});
