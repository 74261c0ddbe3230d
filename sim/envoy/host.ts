// WasmHost: one VM running one plugin (root context), driven directly (no HTTP). The VM is
// started the way an Envoy worker starts its thread-local plugin: initialize (_initialize),
// on_context_create(root, 0), on_vm_start, on_configure. A rejected configuration makes load()
// fail — Envoy would refuse the filter config. configure() models a configuration push:
// Envoy first runs the new configuration in a fresh "canary" VM (cpp-host
// WasmHandleBase::canary) and rejects the push if on_configure returns false (the old root
// context keeps serving); otherwise the worker VM gets a NEW root context for the new
// configuration and the old one is shut down (on_done/on_delete) once its streams finish.

import { readFile } from 'node:fs/promises';
import { makePlugin, type FailurePolicy, type PluginConfig, type RootContext } from './context.js';
import type { HostEnv } from './imports-env.js';
import { StatsStore } from './metrics.js';
import { SharedData, processSharedData, type VmIdHandle } from './shared-data.js';
import { DirectStream, type Stream } from './stream.js';
import { CompiledModule, WasmLoadError, WasmVm, type LogEntry } from './vm.js';
import type { LogLevelName } from './abi-status.js';

export interface FilterSpec {
  /** Path to a .wasm file, or its bytes. */
  wasm: string | Uint8Array;
  /** Envoy root_id / Istio pluginName; the SDK looks its root context up by it. */
  rootId: string;
  /** vm_config.vm_id; Istio leaves it empty (all plugins on a proxy then share shared data). */
  vmId?: string;
  /** Plugin configuration, a JSON string as Istio's WasmPlugin pluginConfig arrives. */
  configuration: string;
  /**
   * The legacy fail_open: a failed VM is skipped by new streams AND by streams already on it.
   * Only one of failOpen and failurePolicy may be set (Envoy refuses the config).
   */
  failOpen?: boolean;
  /**
   * failure_policy (what Istio >= 1.25 emits for failStrategy): FAIL_OPEN skips a failed VM
   * for new streams only; streams already on it get 503 (see PluginConfig in context.ts).
   */
  failurePolicy?: FailurePolicy;
  /** Envoy config.name (the plugin_name property); defaults to rootId. */
  name?: string;
  /** vm_config.configuration (VmConfiguration buffer, on_vm_start size). */
  vmConfiguration?: string;
  /** vm_config.environment_variables.key_values */
  envs?: Record<string, string>;
}

export interface HostOptions {
  sharedData?: SharedData;
  stats?: StatsStore;
  clock?: () => number;
  logLevel?: LogLevelName;
  env?: HostEnv;
  /** Index reported in log entries. */
  index?: number;
  logSink?: (e: LogEntry) => void;
}

const compiledCache = new Map<string, CompiledModule>();

/** Compiles (and caches by path) a module, refusing it as Envoy would (no ABI export, corrupt). */
export async function compileModule(wasm: string | Uint8Array): Promise<CompiledModule> {
  if (typeof wasm !== 'string') return CompiledModule.compile(wasm);
  const cached = compiledCache.get(wasm);
  if (cached) return cached;
  const c = CompiledModule.compile(await readFile(wasm));
  compiledCache.set(wasm, c);
  return c;
}

export function pluginFromSpec(spec: FilterSpec, configuration = spec.configuration): PluginConfig {
  // Envoy PluginConfig's constructor throws EnvoyException for both: the config is refused.
  if (spec.failOpen && spec.failurePolicy !== undefined) {
    throw new WasmLoadError('only one of fail_open or failure_policy can be set', 'ConfigureFailed');
  }
  return makePlugin({
    name: spec.name ?? spec.rootId,
    rootId: spec.rootId,
    vmId: spec.vmId ?? '',
    vmConfiguration: spec.vmConfiguration ?? '',
    configuration,
    failOpen: spec.failOpen ?? false,
    failurePolicy: spec.failOpen ? 'FAIL_OPEN' : spec.failurePolicy ?? 'FAIL_CLOSED',
  });
}

export class WasmHost {
  vm: WasmVm;
  readonly stats: StatsStore;
  readonly sharedData: SharedData;
  readonly clock: () => number;
  readonly logs: LogEntry[] = [];
  plugin: PluginConfig;
  root!: RootContext;
  // This host is a base VM (one vm key): it holds its vm_id until close() (shared-data.ts).
  private readonly vmIdHandle: VmIdHandle;

  private constructor(
    readonly compiled: CompiledModule,
    readonly spec: FilterSpec,
    private readonly opts: HostOptions,
  ) {
    this.stats = opts.stats ?? new StatsStore();
    this.sharedData = opts.sharedData ?? processSharedData;
    this.clock = opts.clock ?? Date.now;
    this.plugin = pluginFromSpec(spec);
    this.vmIdHandle = this.sharedData.holdVmId(this.plugin.vmId);
    this.vm = this.newVm(opts.index ?? 0);
  }

  private newVm(index: number): WasmVm {
    return new WasmVm(this.compiled, {
      vmId: this.plugin.vmId,
      vmConfiguration: this.plugin.vmConfiguration,
      sharedData: this.sharedData,
      stats: this.stats,
      clock: this.clock,
      logLevel: this.opts.logLevel,
      index,
      env: this.opts.env,
      envs: this.spec.envs,
      logSink: (e) => {
        this.logs.push(e);
        this.opts.logSink?.(e);
      },
    });
  }

  static async load(spec: FilterSpec & HostOptions): Promise<WasmHost> {
    const compiled = await compileModule(spec.wasm);
    const host = new WasmHost(compiled, spec, spec);
    host.vm.initialize();
    const root = host.vm.startPlugin(host.plugin);
    if (!root) throw new WasmLoadError(`Failed to start thread-local Wasm: ${host.vm.failMessage}`, 'StartFailed');
    if (!host.vm.configurePlugin(root, host.plugin)) {
      throw new WasmLoadError(`Failed to configure thread-local Wasm plugin ${spec.rootId}`, 'ConfigureFailed');
    }
    host.root = root;
    return host;
  }

  /** A configuration push: canary VM first; false = rejected and the previous config stays. */
  configure(configuration: string): boolean {
    const next = pluginFromSpec(this.spec, configuration);
    if (next.key === this.plugin.key) return true; // identical config: nothing changes
    if (!runCanary(next, (i) => this.newVm(i))) return false;
    if (this.vm.failed) {
      // The crashed thread-local VM was dropped from Envoy's cache: the new plugin gets a fresh VM.
      const fresh = this.newVm(this.vm.index);
      fresh.initialize();
      const r = fresh.startPlugin(next);
      if (!r || !fresh.configurePlugin(r, next)) return false;
      this.vm = fresh;
      this.root = r;
      this.plugin = next;
      return true;
    }
    const root = this.vm.startPlugin(next);
    if (!root || !this.vm.configurePlugin(root, next)) return false;
    const old = this.root;
    this.root = root;
    this.plugin = next;
    if (old.activeStreams === 0) this.vm.shutdownRoot(old);
    else old.retired = true;
    return true;
  }

  newStream(props?: Record<string, string>): Stream {
    return new DirectStream(this, props);
  }

  /** Called by a finished stream: shut a replaced root down once it is unused. */
  releaseStream(root: RootContext): void {
    root.activeStreams--;
    if (root.retired && root.activeStreams === 0) {
      root.retired = false;
      this.vm.shutdownRoot(root);
    }
  }

  /** Fires on_tick on this plugin's root context (Envoy: a timer per set_tick_period). */
  tick(): void {
    if (this.root.tickPeriodMs > 0) this.vm.tick(this.root);
  }

  memoryPages(): number {
    return this.vm.memoryPages;
  }

  get metrics(): Record<string, number> {
    return this.stats.snapshot();
  }

  get failed(): boolean {
    return this.vm.failed;
  }

  /**
   * Plugin teardown (filter config removed): on_done/on_delete of the root context; the VM
   * goes, and with the last VM of its vm_id that vm_id's shared data and queues.
   */
  close(): void {
    if (this.vm.contexts.has(this.root.id)) this.vm.shutdownRoot(this.root);
    this.vmIdHandle.release();
  }
}

/**
 * cpp-host WasmHandleBase::canary: start + configure the plugin in a throw-away clone.
 * It shares shared data and stats with the real VMs (same process), logs with vm = -1.
 */
export function runCanary(plugin: PluginConfig, makeVm: (index: number) => WasmVm): boolean {
  const canary = makeVm(-1);
  try {
    canary.initialize();
  } catch {
    return false;
  }
  const root = canary.startPlugin(plugin);
  if (!root) return false;
  return canary.configurePlugin(root, plugin) && !canary.failed;
}
