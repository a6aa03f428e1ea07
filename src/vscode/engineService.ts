// The editor's handle on the engine: one EngineClient (child process) configured from the settings,
// its state mirrored in the status bar, its log lines in the log channel, and a crash told to the
// user once per session (the client restarts the process on the next request by itself). Every load
// logs the model folder and where its value came from. One EngineClient lives as long as the
// extension: settings changes reconfigure it and never kill a request in flight.
import * as vscode from 'vscode';
import { EngineClient, type Diagnosis, type EngineState } from '../engine/client';
import type {
  InfillRequest,
  InfillResult,
  ModelInfo,
  RefineRequest,
  RefineResult,
  ScoreRequest,
  ScoreResult,
  Snapshot,
} from '../engine/protocol';
import type { Log } from './log';
import { describeFolder, loadOptions, type Settings } from './settings';
import type { StatusBar } from './statusBar';
import type { Ui } from './ui';

export class EngineService implements vscode.Disposable {
  private subscriptions: { dispose(): void }[] = [];
  private readonly client: EngineClient;
  private crashTold = false;
  private readonly warned = new Set<string>();
  /** Increments on every crash; a request compares it to tell a crash from another error. */
  crashes = 0;
  private traceOn = false;

  constructor(
    private readonly enginePath: string,
    private settings: Settings,
    private readonly log: Log,
    private readonly status: StatusBar,
    private readonly ui: Ui,
  ) {
    this.client = this.createClient();
  }

  /** Set while the denoising visualiser is open: requests then ask the engine for per-position traces. */
  get trace(): boolean {
    return this.traceOn;
  }

  set trace(on: boolean) {
    if (on && !this.traceOn) {
      this.client.traceInFlight(); // a request already running is traced from its next step
    }
    this.traceOn = on;
  }

  get state(): EngineState {
    return this.client.state;
  }

  get model(): ModelInfo | undefined {
    return this.client.model;
  }

  /** The engine child's process id while one runs. */
  get pid(): number | undefined {
    return this.client.pid;
  }

  /**
   * New settings: the next request (re)loads lazily if the model options changed; a new idle-unload
   * delay applies from the next idle period. Nothing in flight is stopped.
   */
  configure(settings: Settings): void {
    this.settings = settings;
    this.client.setIdleUnloadMs(settings.idleUnloadMs);
    this.client.setLoadOptions(loadOptions(settings));
  }

  load(modelDir?: string): Promise<ModelInfo> {
    const options = loadOptions(this.settings);
    return this.client.load(modelDir ? { ...options, modelDir } : options);
  }

  infill(
    request: Omit<InfillRequest, 'id'>,
    onSnapshot: (s: Snapshot) => void,
    signal: AbortSignal,
  ): Promise<InfillResult> {
    return this.client.infill(this.trace ? { ...request, trace: true } : request, onSnapshot, signal);
  }

  score(request: Omit<ScoreRequest, 'id'>, signal?: AbortSignal): Promise<ScoreResult> {
    return this.client.score(request, signal);
  }

  refine(
    request: Omit<RefineRequest, 'id'>,
    onSnapshot: (s: Snapshot) => void,
    signal: AbortSignal,
  ): Promise<RefineResult> {
    return this.client.refine(this.trace ? { ...request, trace: true } : request, onSnapshot, signal);
  }

  /** A successful answer also clears a stale error state: the engine works again. */
  async diagnose(): Promise<Diagnosis> {
    const d = await this.client.diagnose();
    this.clearError();
    return d;
  }

  /** Test hook: SIGKILL the engine process, as a native crash would. */
  kill(): void {
    this.client.kill();
  }

  private createClient(): EngineClient {
    const client = new EngineClient({
      enginePath: this.enginePath,
      idleUnloadMs: this.settings.idleUnloadMs,
      log: (level, message) => this.log.engine(level, message),
    });
    client.setLoadOptions(loadOptions(this.settings));
    this.subscriptions = [
      client.onDidChangeState((state) => this.onState(state)),
      client.onDidCrash((info) => {
        this.crashes++;
        this.log.error(
          `engine process crashed (code ${info.code}, signal ${info.signal}); it restarts on the next request`,
        );
        if (!this.crashTold) {
          this.crashTold = true;
          this.ui.warn('the engine process stopped unexpectedly. It restarts on the next request.', {
            'Show Log': () => this.log.show(),
          });
        }
      }),
    ];
    return client;
  }

  private onState(state: EngineState): void {
    if (state === 'loading') {
      this.log.info(`loading the model: model folder ${describeFolder(this.settings)}`);
      for (const warning of this.settings.modelFolderWarnings) {
        this.log.warn(warning);
        if (!this.warned.has(warning)) {
          this.warned.add(warning);
          this.ui.warn(warning, { 'Show Log': () => this.log.show() });
        }
      }
      this.status.set({ kind: 'loading', detail: this.settings.modelFolder });
    } else if (state === 'ready') {
      const info = this.client.model;
      if (info) {
        this.status.setProvider(info.executionProvider, info.fallbackReason, {
          adapter: info.adapter,
          precision: info.precision,
          attempts: info.attempts,
          note: info.providerNote,
        });
        if (info.inferredManifest) {
          this.log.info(`${info.name}: ${info.inferredManifest}`); // drop-in folder: show what was assumed
        }
      }
      if (this.status.state.kind === 'loading' || this.status.state.kind === 'error') {
        this.status.set({ kind: 'idle' }); // a load that succeeds ends an earlier error
      }
    } else if (state === 'idle' && this.status.state.kind === 'loading') {
      this.status.set({ kind: 'idle' });
    }
  }

  private clearError(): void {
    if (this.status.state.kind === 'error') {
      this.status.set({ kind: 'idle' });
    }
  }

  /** Stops the engine process; resolves once it has exited (deactivate waits for this). */
  stop(): Promise<void> {
    this.subscriptions.forEach((s) => s.dispose());
    this.subscriptions = [];
    return this.client.dispose();
  }

  dispose(): void {
    void this.stop();
  }
}
