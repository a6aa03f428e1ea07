// EngineClient: the extension host's (and tests') handle on the engine child process. Forks it on demand,
// loads the model lazily, relays snapshots, cancels, restarts after a crash and unloads when idle.
// No `vscode` import: the editor layer wraps this.
import { fork, type ChildProcess } from 'node:child_process';
import { AbortError, EngineError } from './errors';
import type {
  DeviceReport,
  FromEngine,
  InfillRequest,
  InfillResult,
  LoadOptions,
  ModelInfo,
  RefineRequest,
  RefineResult,
  ScoreRequest,
  ScoreResult,
  Snapshot,
  ToEngine,
} from './protocol';

export type EngineState = 'idle' | 'loading' | 'ready' | 'busy' | 'error';
export type LogLevel = 'info' | 'warn' | 'error';

export interface EngineClientOptions {
  /** The bundled engine entry (dist/engineProcess.js) or the compiled one (out/src/engine/process/main.js). */
  enginePath: string;
  /** Exit the child (freeing the model) after this long without a request; 0 or absent = never. */
  idleUnloadMs?: number;
  execArgv?: string[];
  log?: (level: LogLevel, message: string) => void;
}

export interface Diagnosis {
  providers: string[];
  inUse?: string;
  fallbackReason?: string;
  report?: DeviceReport;
}

export interface CrashInfo {
  code: number | null;
  signal: string | null;
}

export interface Disposable {
  dispose(): void;
}

/** An infill, score or refine request in flight; its snapshots and its reply carry its id. */
interface PendingRequest {
  kind: 'infill' | 'score' | 'refine';
  resolve(result: unknown): void;
  reject(err: Error): void;
  onSnapshot?(snapshot: Snapshot): void;
}

/** A pending load or diagnose, matched to its reply by request id. */
interface PendingControl {
  kind: 'load' | 'diagnose';
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class EngineClient {
  private child: ChildProcess | undefined;
  private childReady: Promise<void> | undefined;
  private loadOptions: LoadOptions | undefined;
  /** Options the current child has loaded (undefined: nothing loaded in it). */
  private loadedKey: string | undefined;
  private modelInfo: ModelInfo | undefined;
  private loading: { key: string; promise: Promise<ModelInfo> } | undefined;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly control = new Map<number, PendingControl>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private currentState: EngineState = 'idle';
  private disposed = false;
  private exited: Promise<void> | undefined;
  private readonly crashListeners = new Set<(info: CrashInfo) => void>();
  private readonly stateListeners = new Set<(state: EngineState) => void>();

  constructor(private readonly opts: EngineClientOptions) {
    this.opts = { ...opts };
  }

  get state(): EngineState {
    return this.currentState;
  }

  /** The engine child's process id while one runs (the soak checks that none is left behind). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Info of the loaded model, if one is loaded. */
  get model(): ModelInfo | undefined {
    return this.modelInfo;
  }

  /**
   * A new idle-unload delay: applies from the next idle period on; never stops the child or a
   * request in flight (a settings change must not kill an infill).
   */
  setIdleUnloadMs(ms: number): void {
    if (ms === (this.opts.idleUnloadMs ?? 0)) {
      return;
    }
    this.opts.idleUnloadMs = ms;
    if (this.idleTimer) {
      this.armIdleTimer();
    }
  }

  /** Options for lazy loading: the next infill loads (or reloads, if they changed) with these. */
  setLoadOptions(options: LoadOptions): void {
    this.loadOptions = { ...options };
  }

  /** Loads the model now (validating it); also becomes the options for later infills. */
  async load(options: LoadOptions): Promise<ModelInfo> {
    this.setLoadOptions(options);
    this.loadedKey = undefined;
    return this.ensureLoaded();
  }

  infill(
    request: Omit<InfillRequest, 'id'>,
    onSnapshot: (snapshot: Snapshot) => void,
    signal?: AbortSignal,
  ): Promise<InfillResult> {
    return this.request('infill', request, onSnapshot, signal) as Promise<InfillResult>;
  }

  /** Pseudo-likelihood scores of a region (G forward passes; see engine/score.ts). */
  score(request: Omit<ScoreRequest, 'id'>, signal?: AbortSignal): Promise<ScoreResult> {
    return this.request('score', request, undefined, signal) as Promise<ScoreResult>;
  }

  /** Refine Selection: score, re-mask the doubtful tokens, denoise them; snapshots as for infill. */
  refine(
    request: Omit<RefineRequest, 'id'>,
    onSnapshot?: (snapshot: Snapshot) => void,
    signal?: AbortSignal,
  ): Promise<RefineResult> {
    return this.request('refine', request, onSnapshot, signal) as Promise<RefineResult>;
  }

  /** Sends one request once the model is loaded; settles on its reply, a cancel, a crash or an abort. */
  private async request(
    kind: PendingRequest['kind'],
    request: Omit<InfillRequest, 'id'> | Omit<ScoreRequest, 'id'> | Omit<RefineRequest, 'id'>,
    onSnapshot: ((snapshot: Snapshot) => void) | undefined,
    signal?: AbortSignal,
  ): Promise<unknown> {
    this.checkNotDisposed();
    if (signal?.aborted) {
      throw new AbortError();
    }
    this.clearIdleTimer();
    await this.ensureLoaded();
    if (signal?.aborted) {
      this.armIdleTimer();
      throw new AbortError();
    }
    const id = this.nextId++;
    const child = this.child!;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => {
        if (this.requests.delete(id)) {
          this.post({ type: 'cancel', requestId: id });
          settle();
          reject(new AbortError());
        }
      };
      const settle = () => {
        signal?.removeEventListener('abort', onAbort);
        this.afterRequest();
      };
      this.requests.set(id, {
        kind,
        resolve: (r) => {
          settle();
          resolve(r);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
        onSnapshot,
      });
      signal?.addEventListener('abort', onAbort);
      this.setState('busy');
      try {
        const message: ToEngine =
          kind === 'infill'
            ? { type: 'infill', request: { ...(request as Omit<InfillRequest, 'id'>), id } }
            : kind === 'score'
              ? { type: 'score', request: { ...(request as Omit<ScoreRequest, 'id'>), id } }
              : { type: 'refine', request: { ...(request as Omit<RefineRequest, 'id'>), id } };
        this.post(message, child);
      } catch (err) {
        this.requests.delete(id);
        settle();
        reject(err as Error);
      }
    });
  }

  /** Asks the engine to trace the infills in flight from their next step on (the visualiser just opened). */
  traceInFlight(): void {
    for (const [id, pending] of this.requests) {
      if (pending.kind !== 'infill') {
        continue;
      }
      try {
        this.post({ type: 'trace', requestId: id });
      } catch {
        // the child is gone; the request fails through its own path
      }
    }
  }

  /** Execution providers this build offers and which one the loaded model uses. */
  async diagnose(): Promise<Diagnosis> {
    this.checkNotDisposed();
    await this.ensureChild();
    return (await this.controlRequest('diagnose', (requestId) => ({
      type: 'diagnose',
      requestId,
    }))) as Diagnosis;
  }

  onDidCrash(listener: (info: CrashInfo) => void): Disposable {
    this.crashListeners.add(listener);
    return { dispose: () => this.crashListeners.delete(listener) };
  }

  onDidChangeState(listener: (state: EngineState) => void): Disposable {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  /** Test hook: SIGKILL the child, as a native crash would. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /**
   * Stops the child and fails what is pending. The promise resolves once the child process has
   * exited (it is SIGKILLed after 2 s if it does not leave), so a caller such as deactivate() can
   * wait for it and leave no orphan behind.
   */
  dispose(): Promise<void> {
    if (this.disposed) {
      return this.exited ?? Promise.resolve();
    }
    this.disposed = true;
    this.clearIdleTimer();
    this.exited = this.stopChild();
    this.failAll(new EngineError('internal', 'engine client disposed'));
    this.crashListeners.clear();
    this.stateListeners.clear();
    return this.exited;
  }

  // --- process lifecycle -------------------------------------------------------------------------

  private async ensureLoaded(): Promise<ModelInfo> {
    const options = this.loadOptions;
    if (!options) {
      throw new EngineError('not-loaded', 'no model configured (set a model folder)');
    }
    const key = JSON.stringify(options);
    if (this.child && this.loadedKey === key && this.modelInfo) {
      return this.modelInfo;
    }
    if (this.loading?.key === key) {
      return this.loading.promise;
    }
    const promise = this.loadInChild(options, key);
    this.loading = { key, promise };
    try {
      return await promise;
    } finally {
      if (this.loading?.promise === promise) {
        this.loading = undefined;
      }
    }
  }

  private async loadInChild(options: LoadOptions, key: string): Promise<ModelInfo> {
    this.setState('loading');
    try {
      await this.ensureChild();
      this.loadedKey = undefined;
      this.modelInfo = undefined;
      const info = (await this.controlRequest('load', (requestId) => ({
        type: 'load',
        requestId,
        options,
      }))) as ModelInfo;
      this.loadedKey = key;
      this.modelInfo = info;
      this.log('info', `model ${info.name} loaded on ${info.executionProvider} in ${info.loadMs} ms`);
      if (info.fallbackReason) {
        this.log('warn', `execution provider fallback: ${info.fallbackReason}`);
      }
      this.setState(this.requests.size > 0 ? 'busy' : 'ready');
      this.armIdleTimer();
      return info;
    } catch (err) {
      this.setState('error');
      throw err;
    }
  }

  private ensureChild(): Promise<void> {
    if (this.child && this.childReady) {
      return this.childReady;
    }
    const child = fork(this.opts.enginePath, [], {
      execArgv: this.opts.execArgv ?? [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.loadedKey = undefined;
    this.modelInfo = undefined;
    child.stdout?.on('data', (d: Buffer) => this.log('info', `[engine] ${d.toString().trimEnd()}`));
    child.stderr?.on('data', (d: Buffer) => this.log('warn', `[engine] ${d.toString().trimEnd()}`));
    this.childReady = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromEngine) => {
        if (m.type === 'ready') {
          child.off('exit', onEarlyExit);
          resolve();
        }
      };
      const onEarlyExit = (code: number | null, signal: string | null) =>
        reject(
          new EngineError('internal', `engine process exited on start (code ${code}, signal ${signal})`),
        );
      child.on('message', onMessage);
      child.once('exit', onEarlyExit);
      child.once('error', (err) =>
        reject(new EngineError('internal', `cannot start engine: ${err.message}`)),
      );
    });
    child.on('message', (m: FromEngine) => this.onMessage(m));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    // A failed start is reported through the promise; keep Node from flagging it as unhandled meanwhile.
    this.childReady.catch(() => undefined);
    return this.childReady;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) {
      return; // an old child we stopped on purpose
    }
    this.child = undefined;
    this.childReady = undefined;
    this.loadedKey = undefined;
    this.modelInfo = undefined;
    this.log('error', `engine process exited unexpectedly (code ${code}, signal ${signal})`);
    this.failAll(new EngineError('internal', 'engine process crashed'));
    this.setState('error');
    for (const listener of [...this.crashListeners]) {
      listener({ code, signal });
    }
  }

  /** Stops the child on purpose (idle unload, dispose): its exit is not a crash. Resolves on exit. */
  private stopChild(): Promise<void> {
    const child = this.child;
    if (!child) {
      return Promise.resolve();
    }
    this.child = undefined;
    this.childReady = undefined;
    this.loadedKey = undefined;
    this.modelInfo = undefined;
    if (child.connected) {
      child.send({ type: 'dispose' } satisfies ToEngine);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve();
    }
    // If the child does not leave on its own (stuck in a native call), make it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    timer.unref();
    return new Promise<void>((resolve) =>
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      }),
    );
  }

  // --- messages ----------------------------------------------------------------------------------

  private onMessage(message: FromEngine): void {
    switch (message.type) {
      case 'ready':
        return;
      case 'loaded':
        return this.settleControl(message.requestId, 'load', message.info);
      case 'diagnosis':
        return this.settleControl(message.requestId, 'diagnose', {
          providers: message.providers,
          inUse: message.inUse,
          fallbackReason: message.fallbackReason,
          report: message.report,
        });
      case 'snapshot':
        this.requests.get(message.snapshot.requestId)?.onSnapshot?.(message.snapshot);
        return;
      case 'scored':
      case 'refined':
        this.settleRequest(message.requestId)?.resolve(message.result);
        return;
      case 'result':
        this.settleRequest(message.result.requestId)?.resolve(message.result);
        return;
      case 'cancelled': {
        this.settleRequest(message.requestId)?.reject(new AbortError());
        return;
      }
      case 'error': {
        const err = new EngineError(message.code, message.message);
        const id = message.requestId;
        const pending = id === undefined ? undefined : this.settleRequest(id);
        const control = id === undefined ? undefined : this.control.get(id);
        if (pending) {
          pending.reject(err);
        } else if (control) {
          this.control.delete(id!);
          control.reject(err);
        } else {
          this.log('error', `engine error${id === undefined ? '' : ` (request ${id})`}: ${message.message}`);
        }
        return;
      }
      case 'log':
        this.log(message.level, `[engine] ${message.message}`);
        return;
    }
  }

  private controlRequest(
    kind: PendingControl['kind'],
    message: (requestId: number) => ToEngine,
  ): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.control.set(id, { kind, resolve, reject });
      try {
        this.post(message(id));
      } catch (err) {
        this.control.delete(id);
        reject(err as Error);
      }
    });
  }

  private settleControl(id: number, kind: PendingControl['kind'], value: unknown): void {
    const pending = this.control.get(id);
    if (!pending) {
      this.log('warn', `engine answered ${kind} to request ${id}, which is not pending`);
      return;
    }
    this.control.delete(id);
    if (pending.kind !== kind) {
      pending.reject(new EngineError('internal', `engine answered ${kind} to a ${pending.kind} request`));
      return;
    }
    pending.resolve(value);
  }

  private post(message: ToEngine, child: ChildProcess | undefined = this.child): void {
    if (!child || !child.connected) {
      throw new EngineError('internal', 'engine process is not running');
    }
    child.send(message);
  }

  /** Removes a request in flight and returns it, for its reply to settle. */
  private settleRequest(id: number): PendingRequest | undefined {
    const pending = this.requests.get(id);
    this.requests.delete(id);
    return pending;
  }

  private failAll(err: Error): void {
    const requests = [...this.requests.values()];
    this.requests.clear();
    const control = [...this.control.values()];
    this.control.clear();
    requests.forEach((p) => p.reject(err));
    control.forEach((p) => p.reject(err));
  }

  // --- state and idle unload --------------------------------------------------------------------

  private afterRequest(): void {
    if (this.requests.size === 0 && this.currentState === 'busy') {
      this.setState('ready');
    }
    this.armIdleTimer();
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    const ms = this.opts.idleUnloadMs ?? 0;
    if (ms <= 0 || this.disposed) {
      return;
    }
    this.idleTimer = setTimeout(() => {
      if (this.requests.size > 0 || this.control.size > 0 || this.loading) {
        this.armIdleTimer();
        return;
      }
      this.log('info', `unloading the model after ${ms} ms idle`);
      this.stopChild();
      this.setState('idle');
    }, ms);
    this.idleTimer.unref();
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }

  private setState(state: EngineState): void {
    if (state === this.currentState) {
      return;
    }
    this.currentState = state;
    for (const listener of [...this.stateListeners]) {
      listener(state);
    }
  }

  private checkNotDisposed(): void {
    if (this.disposed) {
      throw new EngineError('internal', 'engine client disposed');
    }
  }

  private log(level: LogLevel, message: string): void {
    this.opts.log?.(level, message);
  }
}
