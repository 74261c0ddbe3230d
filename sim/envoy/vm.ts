// One Wasm VM (one WebAssembly.Instance) hosted the way Envoy's V8 runtime hosts it
// (proxy-wasm-cpp-host src/wasm.cc WasmBase::load/initialize/getFunctions/startVm/start,
// src/context.cc ContextBase::onStart/onConfigure, src/v8/v8.cc link/getModuleFunctionImpl).
// - load: the ABI version comes from the first proxy_abi_version_* export; none → refused.
// - link: only the functions Envoy registers for that ABI (host-functions.ts); any other import,
//   or an import whose signature differs, refuses the module with Envoy's message.
// - getFunctions: malloc (or proxy_on_memory_allocate) is mandatory; a well-known export with
//   the wrong signature fails the VM ("Bad function signature for: ...").
// - startVm: _initialize (+ main/__main_void) or _start, with host calls restricted to the
//   logging/clock/random/args/env subset (anything else traps with "restricted_callback").
// - a trap in any call marks the VM failed (FailState::RuntimeError): later calls are skipped,
//   streams fail open or closed (see filter-lifecycle.ts).
// Several root contexts (plugins) can live in one VM, as in Envoy when filters share a vm key.

import { createHash } from 'node:crypto';
import { LOG_LEVEL_NAMES, LogLevel, type AbiVersion, type LogLevelName } from './abi-status.js';
import { ContextBase, RootContext, VmContext, type PluginConfig } from './context.js';
import { ALLOWED_DURING_MALLOC, ALLOWED_DURING_START, expectedExports, registeredHostFunctions } from './host-functions.js';
import { createEnvImports, type HostEnv } from './imports-env.js';
import { createWasiImports } from './imports-wasi.js';
import { VmMemory } from './memory.js';
import { StatsStore, VmMetrics } from './metrics.js';
import { SharedData } from './shared-data.js';
import { parseModule, sigEquals, sigToString, type ModuleInfo } from './wasm-binary.js';

export type FailState =
  | 'UnableToCreateVm'
  | 'UnableToCloneVm'
  | 'MissingFunction'
  | 'UnableToInitializeCode'
  | 'StartFailed'
  | 'ConfigureFailed'
  | 'RuntimeError';

export interface LogEntry {
  level: LogLevelName;
  message: string;
  /** Index of the VM that logged (-1 for a configuration canary VM). */
  vm: number;
  rootId?: string;
}

/** Raised when Envoy would refuse to create the VM (the listener/filter config is rejected). */
export class WasmLoadError extends Error {
  constructor(
    message: string,
    readonly failState: FailState,
  ) {
    super(message);
    this.name = 'WasmLoadError';
  }
}

/** A trap raised by the host (e.g. restricted_callback); propagates through Wasm frames. */
export class HostTrap extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export class CompiledModule {
  private constructor(
    readonly bytes: Uint8Array,
    readonly module: WebAssembly.Module,
    readonly info: ModuleInfo,
    readonly abi: AbiVersion,
    readonly hash: string,
  ) {}

  static compile(bytes: Uint8Array): CompiledModule {
    let info: ModuleInfo;
    try {
      info = parseModule(bytes);
    } catch {
      throw new WasmLoadError('Failed to parse corrupted Wasm module', 'UnableToInitializeCode');
    }
    if (!info.abiVersion) {
      throw new WasmLoadError('Missing or unknown Proxy-Wasm ABI version', 'UnableToInitializeCode');
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes as unknown as BufferSource);
    } catch (e) {
      throw new WasmLoadError(`Failed to load Wasm bytecode: ${(e as Error).message}`, 'UnableToInitializeCode');
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    return new CompiledModule(bytes, module, info, info.abiVersion, hash);
  }
}

export interface VmOptions {
  vmId: string;
  vmConfiguration?: string;
  sharedData: SharedData;
  stats: StatsStore;
  /** Wall clock in ms since the epoch (proxy_get_current_time_nanoseconds, request.time). */
  clock: () => number;
  /** Envoy's wasm logger level; proxy_log below it is dropped, proxy_get_log_level returns it. */
  logLevel?: LogLevelName;
  index: number;
  logSink?: (e: LogEntry) => void;
  env?: HostEnv;
  /** vm_config.environment_variables (key_values). */
  envs?: Record<string, string>;
}

type Fn = (...args: number[]) => number;

/** Exports the host calls, resolved once (WasmBase::getFunctions). */
export interface ModuleFunctions {
  _initialize?: Fn;
  _start?: Fn;
  main?: Fn;
  __main_void?: Fn;
  malloc: Fn;
  proxy_on_vm_start?: Fn;
  proxy_on_configure?: Fn;
  proxy_on_tick?: Fn;
  proxy_on_context_create?: Fn;
  proxy_on_request_headers?: Fn;
  proxy_on_request_body?: Fn;
  proxy_on_request_trailers?: Fn;
  proxy_on_response_headers?: Fn;
  proxy_on_response_body?: Fn;
  proxy_on_response_trailers?: Fn;
  proxy_on_http_call_response?: Fn;
  proxy_on_queue_ready?: Fn;
  proxy_on_foreign_function?: Fn;
  proxy_on_done?: Fn;
  proxy_on_log?: Fn;
  proxy_on_delete?: Fn;
}

function trapText(e: unknown): string {
  if (e instanceof Error) {
    const frames = (e.stack ?? '')
      .split('\n')
      .filter((l) => l.includes('wasm://'))
      .slice(0, 20)
      .map((l, i) => `${String(i).padStart(3, ' ')}: ${l.trim().replace(/^at /, '')}`);
    const head = `Uncaught ${e.name}: ${e.message}`;
    return frames.length ? `${head}\nProxy-Wasm plugin in-VM backtrace:\n${frames.join('\n')}` : head;
  }
  return `Uncaught ${String(e)}`;
}

export class WasmVm {
  readonly abi: AbiVersion;
  readonly vmId: string;
  readonly vmConfiguration: string;
  readonly mem = new VmMemory();
  readonly metrics: VmMetrics;
  readonly sharedData: SharedData;
  readonly clock: () => number;
  readonly index: number;
  readonly env: HostEnv | undefined;
  readonly envs: Record<string, string>;
  logLevel: number;
  readonly logs: LogEntry[] = [];
  logSink: ((e: LogEntry) => void) | undefined;

  fns!: ModuleFunctions;
  failState: FailState | null = null;
  failMessage = '';

  readonly contexts = new Map<number, ContextBase>();
  readonly roots = new Map<string, RootContext>();
  readonly vmContext: VmContext;
  private nextContextId = 1;

  /** contextOrEffectiveContext() inputs (SaveRestoreContext saves/restores both). */
  current: ContextBase;
  effectiveId = 0;
  /** Host calls allowed right now; null = unrestricted (WasmVm::setRestrictedCallback). */
  restricted: Set<string> | null = null;
  /** Host calls by import name while set (the bench counts boundary crossings); null = not counted. */
  hostCalls: Map<string, number> | null = null;
  /** WasmBase::stopNextIteration, set by send_local_response. */
  stopIteration = false;
  private afterActions: Array<() => void> = [];
  private http = { next: 0 };

  constructor(
    readonly compiled: CompiledModule,
    opts: VmOptions,
  ) {
    this.abi = compiled.abi;
    this.vmId = opts.vmId;
    this.vmConfiguration = opts.vmConfiguration ?? '';
    this.sharedData = opts.sharedData;
    this.metrics = new VmMetrics(opts.stats);
    this.clock = opts.clock;
    this.index = opts.index;
    this.logSink = opts.logSink;
    this.env = opts.env;
    this.envs = opts.envs ?? {};
    this.logLevel = LogLevel[opts.logLevel ?? 'info'];
    this.vmContext = new VmContext(this, 0, null);
    this.current = this.vmContext;
    this.contexts.set(0, this.vmContext);
  }

  get failed(): boolean {
    return this.failState !== null;
  }

  get memoryPages(): number {
    return this.mem.memory ? this.mem.pages : 0;
  }

  /** Envoy's Wasm logger (Context::log, Wasm::error): entries below the level are dropped. */
  log(level: number, message: string, rootId?: string): void {
    if (level < this.logLevel) return;
    const e: LogEntry = { level: LOG_LEVEL_NAMES[level], message, vm: this.index, rootId };
    this.logs.push(e);
    this.logSink?.(e);
  }

  fail(state: FailState, message: string): void {
    // WasmBase::fail → Wasm::error: ENVOY_LOG(error, "Wasm VM failed {}", message)
    this.log(LogLevel.error, `Wasm VM failed ${message}`);
    this.failState = state;
    this.failMessage = message;
  }

  /** link + getFunctions + startVm (WasmBase::initialize). Throws WasmLoadError like Envoy refuses. */
  initialize(): void {
    const info = this.compiled.info;
    const registered = registeredHostFunctions(this.abi);
    const env = createEnvImports(this);
    const wasi = createWasiImports(this);
    const importObject: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    let importedMemory: WebAssembly.Memory | undefined;
    for (const imp of info.imports) {
      const key = `${imp.module}.${imp.name}`;
      let value: WebAssembly.ImportValue;
      if (imp.kind === 'func') {
        const want = registered.get(key);
        if (!want) {
          throw new WasmLoadError(`Failed to load Wasm module due to a missing import: ${key}`, 'UnableToInitializeCode');
        }
        if (!sigEquals(imp.sig, want)) {
          throw new WasmLoadError(
            `Failed to load Wasm module due to an import type mismatch: ${key}, want: ${sigToString(imp.sig)}, but host exports: ${sigToString(want)}`,
            'UnableToInitializeCode',
          );
        }
        const impl = imp.module === 'env' ? env[imp.name] : wasi[imp.name];
        value = this.guard(key, impl);
      } else if (imp.kind === 'memory') {
        importedMemory = new WebAssembly.Memory({ initial: imp.limits.min, maximum: imp.limits.max });
        value = importedMemory;
      } else if (imp.kind === 'table') {
        value = new WebAssembly.Table({ element: 'anyfunc', initial: imp.limits.min, maximum: imp.limits.max });
      } else {
        throw new WasmLoadError(`Failed to load Wasm module due to a missing import: ${key}`, 'UnableToInitializeCode');
      }
      (importObject[imp.module] ??= {})[imp.name] = value;
    }
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(this.compiled.module, importObject);
    } catch (e) {
      throw new WasmLoadError(`Failed to load Wasm module: ${(e as Error).message}`, 'UnableToInitializeCode');
    }
    const memory = (instance.exports.memory as WebAssembly.Memory | undefined) ?? importedMemory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new WasmLoadError('Failed to load Wasm module: no memory', 'UnableToInitializeCode');
    }
    this.mem.attach(memory);
    this.getFunctions(instance);
    this.startVm();
    if (this.failed) {
      throw new WasmLoadError(`Failed to initialize Wasm code: ${this.failMessage}`, 'UnableToInitializeCode');
    }
  }

  /** Wraps a host function with the restricted-callback check (v8.cc registerHostFunctionImpl). */
  private guard(key: string, impl: (...a: never[]) => unknown): (...a: never[]) => unknown {
    const vm = this;
    const f = impl as (...a: unknown[]) => unknown;
    const check = () => {
      if (vm.restricted !== null && !vm.restricted.has(key)) throw new HostTrap('restricted_callback');
      if (vm.hostCalls !== null) vm.hostCalls.set(key, (vm.hostCalls.get(key) ?? 0) + 1);
    };
    switch (f.length) {
      case 0:
        return () => (check(), f());
      case 1:
        return (a: never) => (check(), f(a));
      case 2:
        return (a: never, b: never) => (check(), f(a, b));
      case 3:
        return (a: never, b: never, c: never) => (check(), f(a, b, c));
      case 4:
        return (a: never, b: never, c: never, d: never) => (check(), f(a, b, c, d));
      case 5:
        return (a: never, b: never, c: never, d: never, e: never) => (check(), f(a, b, c, d, e));
      default:
        return (...args: never[]) => (check(), f(...args));
    }
  }

  private getFunctions(instance: WebAssembly.Instance): void {
    const ex = instance.exports as Record<string, unknown>;
    const expected = expectedExports(this.abi);
    const info = this.compiled.info;
    const get = (name: string): Fn | undefined => {
      const desc = info.exportByName.get(name);
      if (!desc || desc.kind !== 'func' || typeof ex[name] !== 'function') return undefined;
      const want = expected.get(name);
      if (want && desc.sig && !sigEquals(desc.sig, want)) {
        this.fail(
          'UnableToInitializeCode',
          `Bad function signature for: ${name}, want: ${sigToString(want)}, but the module exports: ${sigToString(desc.sig)}`,
        );
        return undefined;
      }
      return ex[name] as Fn;
    };
    const fns: Partial<ModuleFunctions> = {};
    fns._initialize = get('_initialize');
    if (fns._initialize) {
      fns.main = get('main');
      fns.__main_void = get('__main_void');
    } else {
      fns._start = get('_start');
    }
    fns.malloc = get('malloc') ?? get('proxy_on_memory_allocate');
    if (!fns.malloc) {
      this.fail('MissingFunction', 'Wasm module is missing malloc function.');
      throw new WasmLoadError('Wasm module is missing malloc function.', 'MissingFunction');
    }
    for (const name of [
      'proxy_on_vm_start',
      'proxy_on_configure',
      'proxy_on_tick',
      'proxy_on_context_create',
      'proxy_on_request_headers',
      'proxy_on_request_body',
      'proxy_on_request_trailers',
      'proxy_on_response_headers',
      'proxy_on_response_body',
      'proxy_on_response_trailers',
      'proxy_on_http_call_response',
      'proxy_on_queue_ready',
      'proxy_on_done',
      'proxy_on_log',
      'proxy_on_delete',
    ] as const) {
      fns[name] = get(name);
    }
    if (this.abi !== '0.1.0') fns.proxy_on_foreign_function = get('proxy_on_foreign_function');
    this.fns = fns as ModuleFunctions;
    if (this.failed) throw new WasmLoadError(this.failMessage, this.failState!);
  }

  private startVm(): void {
    this.restricted = ALLOWED_DURING_START;
    try {
      if (this.fns._initialize) {
        this.invoke(this.vmContext, '_initialize', this.fns._initialize);
        if (!this.failed && this.fns.main) this.invoke(this.vmContext, 'main', this.fns.main, 0, 0);
        else if (!this.failed && this.fns.__main_void) this.invoke(this.vmContext, '__main_void', this.fns.__main_void);
      } else if (this.fns._start) {
        this.invoke(this.vmContext, '_start', this.fns._start);
      }
    } finally {
      this.restricted = null;
    }
  }

  allocContextId(): number {
    while (this.contexts.has(this.nextContextId)) this.nextContextId = (this.nextContextId + 1) >>> 0;
    return this.nextContextId++;
  }

  nextHttpCallToken(): number {
    this.http.next = (this.http.next + 4) >>> 0; // CalloutType::HttpCall in the low bits
    return this.http.next;
  }

  /**
   * Calls into the module with `ctx` as current context (SaveRestoreContext). A trap fails the
   * VM (FailState::RuntimeError) and yields 0, like getModuleFunctionImpl's R{}.
   */
  invoke(ctx: ContextBase, name: string, fn: Fn, a = 0, b = 0, c = 0, d = 0, e = 0): number {
    const savedCtx = this.current;
    const savedEff = this.effectiveId;
    this.current = ctx;
    this.effectiveId = 0;
    try {
      return fn(a, b, c, d, e) >>> 0;
    } catch (err) {
      this.fail('RuntimeError', `Function: ${name} failed: ${trapText(err)}`);
      return 0;
    } finally {
      this.current = savedCtx;
      this.effectiveId = savedEff;
    }
  }

  /** contextOrEffectiveContext() */
  ctx(): ContextBase {
    if (this.effectiveId === 0) return this.current;
    return this.contexts.get(this.effectiveId) ?? this.current;
  }

  addAfterVmCallAction(f: () => void): void {
    this.afterActions.push(f);
  }

  /** ~DeferAfterCallActions: clear the stop flag, then run deferred actions in order. */
  afterVmCall(): void {
    this.stopIteration = false;
    while (this.afterActions.length) this.afterActions.shift()!();
  }

  /** WasmBase::allocMemory: malloc under restricted host calls; 0 on failure. */
  alloc(size: number): number {
    const savedRestricted = this.restricted;
    const savedCtx = this.current;
    const savedEff = this.effectiveId;
    this.restricted = ALLOWED_DURING_MALLOC;
    this.current = this.vmContext;
    this.effectiveId = 0;
    let ptr = 0;
    try {
      ptr = this.fns.malloc(size) >>> 0;
    } catch (err) {
      this.fail('RuntimeError', `Function: malloc failed: ${trapText(err)}`);
      ptr = 0;
    } finally {
      this.restricted = savedRestricted;
      this.current = savedCtx;
      this.effectiveId = savedEff;
    }
    if (ptr === 0 || !this.mem.inRange(ptr, size)) return 0;
    return ptr;
  }

  /**
   * WasmBase::copyToPointerSize: malloc + copy, then write pointer and size words. A string
   * is copied as its bytes in `enc` (latin1: header values, byte strings), encoded straight
   * into the module's memory (no intermediate Buffer).
   */
  copyToPointerSize(data: Uint8Array | string, ptrPtr: number, sizePtr: number, enc: 'latin1' | 'utf8' = 'latin1'): boolean {
    if (typeof data === 'string') return this.copyStringToPointerSize(data, enc, ptrPtr, sizePtr);
    let ptr = 0;
    if (data.length > 0) {
      ptr = this.alloc(data.length);
      if (ptr === 0) return false;
      this.mem.set(ptr, data);
    }
    return this.mem.setWord(ptrPtr, ptr) && this.mem.setWord(sizePtr, data.length);
  }

  private copyStringToPointerSize(s: string, enc: 'latin1' | 'utf8', ptrPtr: number, sizePtr: number): boolean {
    const size = encodedLength(s, enc);
    let ptr = 0;
    if (size > 0) {
      ptr = this.alloc(size);
      if (ptr === 0) return false;
      writeEncoded(this.mem.bytes(), ptr, s, enc, size);
    }
    return this.mem.setWord(ptrPtr, ptr) && this.mem.setWord(sizePtr, size);
  }

  // ---- plugin (root context) lifecycle: WasmBase::start / configure / startShutdown ----

  /** WasmBase::start → ContextBase::onStart: on_context_create(root, 0), on_vm_start. Null = StartFailed. */
  startPlugin(plugin: PluginConfig): RootContext | null {
    let root = this.roots.get(plugin.key);
    if (!root) {
      root = new RootContext(this, this.allocContextId(), plugin);
      this.contexts.set(root.id, root);
      this.roots.set(plugin.key, root);
    }
    let ok = true;
    if (this.fns.proxy_on_context_create && !this.failed) {
      root.tempPluginConfig = plugin.configuration;
      this.invoke(root, 'proxy_on_context_create', this.fns.proxy_on_context_create, root.id, 0);
      root.inVmContextCreated = true;
      root.tempPluginConfig = null;
    }
    if (this.fns.proxy_on_vm_start && !this.failed) {
      ok =
        this.invoke(root, 'proxy_on_vm_start', this.fns.proxy_on_vm_start, root.id, Buffer.byteLength(this.vmConfiguration)) !== 0;
    }
    this.afterVmCall();
    if (!ok || this.failed) return null;
    return root;
  }

  /** ContextBase::onConfigure. A failed VM reports success (isFailed() → true), as in Envoy. */
  configurePlugin(root: RootContext, plugin: PluginConfig): boolean {
    if (this.failed) return true;
    if (!root.inVmContextCreated && this.fns.proxy_on_context_create) {
      this.invoke(root, 'proxy_on_context_create', this.fns.proxy_on_context_create, root.id, 0);
      this.afterVmCall();
    }
    root.inVmContextCreated = true;
    if (!this.fns.proxy_on_configure) return true;
    root.tempPluginConfig = plugin.configuration;
    const r =
      this.invoke(root, 'proxy_on_configure', this.fns.proxy_on_configure, root.id, Buffer.byteLength(plugin.configuration)) !== 0;
    root.tempPluginConfig = null;
    this.afterVmCall();
    return r;
  }

  /** WasmBase::startShutdown(plugin_key): on_done, then on_delete unless the root asked to wait. */
  shutdownRoot(root: RootContext): void {
    this.roots.delete(root.plugin!.key);
    for (const c of root.httpCalls.values()) c.cancel();
    root.httpCalls.clear();
    root.tickPeriodMs = 0;
    let done = true;
    if (!this.failed && this.fns.proxy_on_done) {
      done = this.invoke(root, 'proxy_on_done', this.fns.proxy_on_done, root.id) !== 0;
      this.afterVmCall();
    }
    if (done) this.deleteRoot(root);
    else root.pendingDone = true;
  }

  deleteRoot(root: RootContext): void {
    root.pendingDone = false;
    if (root.inVmContextCreated && !this.failed && this.fns.proxy_on_delete) {
      this.invoke(root, 'proxy_on_delete', this.fns.proxy_on_delete, root.id);
      this.afterVmCall();
    }
    this.contexts.delete(root.id);
  }

  /** WasmBase::done (proxy_done): only a root waiting after on_done may call it. */
  done(ctx: ContextBase): number {
    if (!(ctx instanceof RootContext) || !ctx.pendingDone) return 1; // NotFound
    ctx.pendingDone = false;
    this.addAfterVmCallAction(() => this.deleteRoot(ctx));
    return 0;
  }

  /** ContextBase::onTick */
  tick(root: RootContext): void {
    if (this.failed || !this.fns.proxy_on_tick) return;
    this.invoke(root, 'proxy_on_tick', this.fns.proxy_on_tick, root.id);
    this.afterVmCall();
  }

  /** ContextBase::onQueueReady, posted by an enqueue. */
  onQueueReady(contextId: number, token: number): void {
    const ctx = this.contexts.get(contextId);
    if (!ctx || this.failed || !this.fns.proxy_on_queue_ready) return;
    this.invoke(ctx, 'proxy_on_queue_ready', this.fns.proxy_on_queue_ready, contextId, token);
    this.afterVmCall();
  }

  /** Context::onHttpCallSuccess/Failure → ContextBase::onHttpCallResponse on the root context. */
  onHttpCallResponse(root: RootContext, token: number, headers: number, bodySize: number, trailers: number): void {
    if (this.failed || !this.fns.proxy_on_http_call_response) {
      this.afterVmCall();
      return;
    }
    this.invoke(root, 'proxy_on_http_call_response', this.fns.proxy_on_http_call_response, root.id, token, headers, bodySize, trailers);
    this.afterVmCall();
  }
}

// Strings this short are encoded in JS: Buffer.byteLength / Buffer.from / write are calls
// into C++ that cost more than the loop (a header value, a property like an address).
const SHORT = 64;

/** Bytes of `s` in `enc` (as Buffer.byteLength: latin1 is one byte per UTF-16 unit). */
function encodedLength(s: string, enc: 'latin1' | 'utf8'): number {
  if (enc === 'latin1') return s.length;
  if (s.length > SHORT) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Writes `s` in `enc` at `at` (`size` = encodedLength), the bytes Buffer.from(s, enc) holds. */
function writeEncoded(b: Buffer, at: number, s: string, enc: 'latin1' | 'utf8', size: number): void {
  if (s.length > SHORT || (enc === 'utf8' && size !== s.length)) {
    b.write(s, at, size, enc);
    return;
  }
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i) & 0xff; // latin1: the low byte, as Node's
}
