// startEnvoy: a loopback HTTP/1.1 proxy that hosts Wasm filters the way an Envoy with
// `workers` worker threads does (source/extensions/filters/http/wasm, common/wasm/wasm.cc,
// proxy-wasm-cpp-host src/wasm.cc createWasm/canary/getOrCreateThreadLocalPlugin):
// - filters sharing module bytes, vm_id and vm configuration share one VM per worker (Envoy's
//   vm key) — each filter is a root context in it; other filters get their own VM;
// - each filter's configuration is first tried in a canary VM; a rejected configuration or a
//   module Envoy would refuse makes startEnvoy() reject (the listener would not come up);
// - requests are spread round-robin over workers (Envoy's kernel/connection balancing is not
//   modelled: here it is per request);
// - reconfigure() is a configuration push: canary, then a new root context in every worker VM,
//   the old one shut down after its in-flight streams (a crashed worker VM is replaced);
// - replaceFilter() is a full VM replacement (a new module, vm configuration or vm_id: a new vm
//   key): Envoy builds the new filter config — its base VM, canary and worker VMs — while the
//   old one still serves, then drops the old after its streams; removeFilter() drops a filter;
// - each vm key has one base VM holding a VmIdHandle on its vm_id (shared-data.ts): when the
//   last base of a vm_id goes (its filters removed, or close()), that vm_id's shared data and
//   queues are deleted (proxy-wasm-cpp-host src/vm_id_handle.cc, SharedData::deleteByVmId).

import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { makePlugin, type PluginConfig, type RootContext } from './context.js';
import { HttpStream, type ClusterSpec, type PluginHandle, type StreamEnv } from './http-stream.js';
import { H2Pool } from './upstream-h2.js';
import { dispatchByPreface } from './h2c-listener.js';
import { compileModule, pluginFromSpec, runCanary, type FilterSpec } from './host.js';
import type { HostEnv, HttpCallRequest, HttpCallResponseData } from './imports-env.js';
import { StatsStore } from './metrics.js';
import { renderPrometheus, type HistogramBuckets, type StatsTag } from './prometheus.js';
import type { Pair } from './pairs.js';
import type { RouteSpec } from './routes.js';
import { SharedData, type VmIdHandle } from './shared-data.js';
import { requestIdOptions } from './request-id.js';
import { normalizePath, type PathNormalization } from './path-normalization.js';
import { ENVOY_HEADER_LIMITS, HEADERS_TOO_LARGE, envoyHeaderRefusal, nodeHeaderCeiling, type EdgeRefusal, type EnvoyHeaderLimits } from './header-limits.js';
import { prepareLocalReply } from './local-reply.js';
import { WasmLoadError, WasmVm, type CompiledModule, type LogEntry } from './vm.js';
import type { LogLevelName } from './abi-status.js';
import type { VirtualTicks } from './virtual-ticks.js';

// Envoy's listeners listen with the listener's tcp_backlog_size, else ENVOY_TCP_BACKLOG_SIZE
// (source/common/listener_manager/listener_impl.cc: ListenerImpl's tcp_backlog_size_, used by
// ListenSocketFactoryImpl::doFinalPreWorkerInit's listen()); the admin listener always with
// ENVOY_TCP_BACKLOG_SIZE (source/server/admin/admin.cc startHttpListener). On Linux that is -1
// (envoy/common/platform.h), which listen(2) takes as net.core.somaxconn; Node passes it
// through (libuv uv_listen). `tandem render`'s envoy.yaml and deploy/envoy/envoy.yaml set no
// tcp_backlog_size. Node's default (511) made the kernel drop the SYNs of a burst beyond 512
// connections, each client then waiting for a SYN retry (1 s, 3 s...) Envoy's would not wait
// for. Not modelled: with reuse_port (on by default on Linux) Envoy has one such queue per
// worker; the harness has one for all, so only a burst beyond somaxconn differs.
export const ENVOY_TCP_BACKLOG_SIZE = -1;

export interface EnvoyOptions {
  filters: FilterSpec[];
  /** Worker threads, i.e. VMs per vm key. Default 2. */
  workers?: number;
  /** http2 / useDownstreamProtocol: the protocol spoken upstream (http-stream.ts ClusterSpec). */
  clusters: Record<string, ClusterSpec>;
  /** First match wins. */
  routes: RouteSpec[];
  /** ms since epoch; default Date.now. */
  clock?: () => number;
  /** Route timeout (Envoy default 15 s; 0 disables). */
  upstreamTimeoutMs?: number;
  /** The router's retry backoff jitter, a draw in [0, interval) (default Envoy's uniform random; ./retry.ts). */
  retryBackoff?: (intervalMs: number) => number;
  /** How a retry backoff is waited (default a real timer; a virtual clock moves time instead). */
  retrySleep?: (ms: number) => Promise<void>;
  port?: number;
  /** HCM stream_idle_timeout for paused streams (Envoy default 5 min). */
  streamIdleTimeoutMs?: number;
  /** The listener's per_connection_buffer_limit_bytes, a stream's buffer limit (Envoy default 1 MiB; 0 = none). */
  bufferLimitBytes?: number;
  /** Envoy's wasm log level (default info). */
  logLevel?: LogLevelName;
  /** Process-wide shared data; default a fresh store per gateway (one Envoy process). */
  sharedData?: SharedData;
  /** Observes each try the router sends upstream (retries included, before its host is picked): cluster name and final headers. */
  onUpstreamRequest?: (a: { upstream: string; headers: Record<string, string | string[]> }) => void;
  /** Each finished stream, as an access log sees it (./http-stream.ts finalize). */
  onAccessLog?: (a: { requestHeaders: Record<string, string> }) => void;
  /**
   * HCM upgrade_configs: the upgrade types (Upgrade header values) the HCM allows, e.g.
   * ['websocket'] as Istio and `tandem render` write it. Envoy's default: none, every
   * upgrade refused with 403 (./upgrade.ts). A route's `upgradeConfigs` overrides.
   */
  upgradeConfigs?: string[];
  /**
   * The HCM's http_protocol_options.enable_trailers (Envoy's default false): an HTTP/1.1
   * client's response carries trailer fields only with it (http1/codec_impl.cc
   * encodeTrailersBase ends the chunked body without them otherwise). A cluster's own
   * `enableTrailers` decides whether an HTTP/1.1 upstream's trailers are read at all.
   */
  enableTrailers?: boolean;
  /** HCM use_remote_address: the gateway is an edge (Istio gateways: true; Envoy's default false). */
  useRemoteAddress?: boolean;
  /** HCM preserve_external_request_id (default false; Istio never sets it). */
  preserveExternalRequestId?: boolean;
  /** The UUIDs Envoy generates for x-request-id (default random; see request-id.ts). */
  uuid?: () => string;
  /** Istio's meshConfig.pathNormalization as the HCM gets it (path-normalization.ts); default NONE, Envoy's own default. */
  pathNormalization?: PathNormalization;
  /** HCM max_request_headers_kb / max_headers_count (header-limits.ts; defaults 60 and 100). */
  headerLimits?: Partial<EnvoyHeaderLimits>;
  /**
   * Root-context timers (proxy_set_tick_period_milliseconds) on the virtual clock: the
   * caller moves time with `advance` (./virtual-ticks.ts). Default: wall-time timers.
   */
  virtualTicks?: VirtualTicks;
  /**
   * The admin listener (bootstrap `admin`): GET /stats/prometheus[?usedonly] as Envoy
   * renders it (./prometheus.ts). Off unless given; port 0 = any free port.
   */
  admin?: { port?: number };
  /** bootstrap stats_config.stats_tags (tag extraction; tandem render writes tandem's) */
  statsTags?: StatsTag[];
  /** bootstrap stats_config.histogram_bucket_settings */
  histogramBucketSettings?: HistogramBuckets[];
  /** bootstrap stats_flush_interval (default 5000 ms): histograms are merged for the admin output then */
  statsFlushIntervalMs?: number;
}

export interface EnvoyGateway {
  url: string;
  port: number;
  reconfigure(rootId: string, configuration: string): boolean;
  /** A full VM replacement of the filters with this root id (new module / vm config / vm_id). */
  replaceFilter(rootId: string, change: Partial<Omit<FilterSpec, 'rootId'>>): Promise<boolean>;
  /** The filters with this root id leave the chain (their VMs go after their streams). */
  removeFilter(rootId: string): boolean;
  /** Points a cluster at another host (its protocol options stay unless `addr` has its own). */
  setCluster(name: string, addr: ClusterSpec): void;
  /** The route's timeout for streams that start from now on (a route config change in Envoy). */
  setUpstreamTimeout(ms: number): void;
  metrics(): Record<string, number>;
  logs(): { level: string; message: string; vm: number }[];
  memoryPages(): number[];
  close(): Promise<void>;
  /** Histogram samples by full stat name (wasmcustom.<name>). */
  histograms(): Record<string, number[]>;
  /** GET /stats/prometheus of the admin side (usedOnly: ?usedonly) */
  prometheus(usedOnly?: boolean): string;
  /** merge histograms now, as a stats flush does (the admin output shows them from then) */
  flushStats(): void;
  /** http://127.0.0.1:<port> of the admin listener, when opts.admin is set */
  adminUrl: string;
  readonly sharedData: SharedData;
  /** Worker VMs, in the index order used by logs() and memoryPages(). */
  readonly vms: WasmVm[];
}

interface FilterState {
  spec: FilterSpec;
  compiled: CompiledModule;
  plugin: PluginConfig;
}

interface Worker {
  index: number;
  vms: Map<string, WasmVm>;
  handles: Array<PluginHandle | null>;
}

class Gateway implements EnvoyGateway {
  url = '';
  port = 0;
  adminUrl = '';
  private adminServer: http.Server | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushed = new Map<string, number[]>();
  readonly sharedData: SharedData;
  readonly vms: WasmVm[] = [];
  private readonly stats = new StatsStore();
  private readonly logEntries: LogEntry[] = [];
  private readonly filters: FilterState[] = [];
  private readonly workers: Worker[] = [];
  private readonly clusters = new Map<string, ClusterSpec>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly h2Pool = new H2Pool();
  // The listener: a TCP server handing each connection to the HTTP/1 or the HTTP/2 codec
  // (./h2c-listener.ts), as the HCM's codec_type AUTO does.
  private readonly listener: net.Server;
  private readonly h2server: http2.Http2Server;
  private readonly h2sessions = new Set<http2.ServerHttp2Session>();
  private readonly connections = new Set<Socket>();
  private readonly tickTimers = new Map<RootContext, NodeJS.Timeout>();
  private readonly server: http.Server;
  private readonly clock: () => number;
  // Base VMs per vm key: the vm_id handle, and the filters / retiring roots still using it.
  private readonly bases = new Map<string, { handle: VmIdHandle; users: number }>();
  private readonly afterShutdown = new Map<RootContext, () => void>();
  private rr = 0;
  private vmIndex = 0;
  private readonly upgraded = new Set<Duplex>();
  private readonly streamEnv: StreamEnv;
  private readonly hostEnv: HostEnv;

  constructor(private readonly opts: EnvoyOptions) {
    this.sharedData = opts.sharedData ?? new SharedData();
    this.clock = opts.clock ?? Date.now;
    for (const [k, v] of Object.entries(opts.clusters)) this.clusters.set(k, { ...v });
    this.hostEnv = {
      hasCluster: (name) => this.clusters.has(name),
      httpCall: (req, done) => this.httpCall(req, done),
      onTickPeriod: (vm, root) => this.armTick(vm, root),
    };
    this.streamEnv = {
      routes: opts.routes,
      clusters: this.clusters,
      h2Pool: this.h2Pool,
      clock: this.clock,
      upstreamTimeoutMs: opts.upstreamTimeoutMs ?? 15000,
      retryBackoff: opts.retryBackoff,
      retrySleep: opts.retrySleep,
      streamIdleTimeoutMs: opts.streamIdleTimeoutMs ?? 300000,
      agent: this.agent,
      releaseRoot: (root, vm) => this.releaseRoot(root, vm),
      harnessLog: (e) => this.logEntries.push(e),
      onUpstreamRequest: opts.onUpstreamRequest,
      onAccessLog: opts.onAccessLog,
      requestId: requestIdOptions(opts),
      bufferLimitBytes: opts.bufferLimitBytes,
      upgradeConfigs: opts.upgradeConfigs ?? [],
      enableTrailers: opts.enableTrailers ?? false,
    };
    const limits: EnvoyHeaderLimits = { ...ENVOY_HEADER_LIMITS, ...opts.headerLimits };
    // Node's parser must not be what refuses a large head: its limit sits far above
    // Envoy's, and it keeps every header field (maxHeadersCount 0).
    this.server = http.createServer({ maxHeaderSize: nodeHeaderCeiling(limits) }, (req, res) => {
      if (this.refusedAtEdge(req, res, limits)) return;
      const worker = this.workers[this.rr++ % this.workers.length];
      void new HttpStream(this.streamEnv, worker.handles, req, res).run();
    });
    this.server.maxHeadersCount = 0;
    // An upgrade request (Connection: upgrade + Upgrade; Node hands it over with the raw
    // socket, as its parser stops at the head): the same stream, answering on that socket
    // through a response object of its own, or tunnelling after a 101 (./upgrade.ts,
    // http-stream.ts). A non-101 answer ends the connection.
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const res = new http.ServerResponse(req);
      res.assignSocket(socket as Socket);
      res.shouldKeepAlive = false;
      const tunnel = { socket, head, open: false };
      // Node's server no longer tracks an upgraded connection: close() ends it.
      this.upgraded.add(socket);
      socket.on('close', () => this.upgraded.delete(socket));
      res.on('finish', () => { if (!tunnel.open) socket.end(); });
      socket.on('error', () => socket.destroy());
      if (this.refusedAtEdge(req, res, limits)) return;
      const worker = this.workers[this.rr++ % this.workers.length];
      void new HttpStream(this.streamEnv, worker.handles, req, res, tunnel).run();
    });
    // HTTP/2 streams (h2c with prior knowledge): the same HttpStream, over Node's HTTP/2
    // compatibility request/response; the connection's socket is the sniffed TCP one.
    // Not modelled: extended CONNECT (RFC 8441 WebSockets over h2; Node's server does not
    // enable SETTINGS_ENABLE_CONNECT_PROTOCOL here), the h2 codec's own header limits.
    // Node's own header-list cap must not be what refuses (header-limits.ts applies Envoy's).
    this.h2server = http2.createServer({ maxHeaderListPairs: 1 << 16 });
    this.h2server.on('session', (session) => {
      this.h2sessions.add(session);
      session.on('close', () => this.h2sessions.delete(session));
      session.on('error', () => session.destroy());
    });
    this.h2server.on('request', (req, res) => {
      const hreq = req as unknown as http.IncomingMessage;
      const hres = res as unknown as http.ServerResponse;
      if (this.refusedAtEdge(hreq, hres, limits)) return;
      const worker = this.workers[this.rr++ % this.workers.length];
      void new HttpStream(this.streamEnv, worker.handles, hreq, hres).run();
    });
    // One TCP listener, the codec chosen per connection (./h2c-listener.ts: codec_type AUTO).
    this.listener = net.createServer((socket) => {
      // the HTTP servers never listen themselves, so they track no connections: close() ends these
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
      dispatchByPreface(socket, (s) => this.h2server.emit('connection', s), (s) => this.server.emit('connection', s));
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      // A head above even Node's ceiling is above Envoy's limit too: the codec's 431.
      const overflow = err.code === 'HPE_HEADER_OVERFLOW';
      const status = overflow ? `431 ${HEADERS_TOO_LARGE}` : '400 Bad Request';
      const body = overflow ? HEADERS_TOO_LARGE : 'Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nserver: envoy\r\nconnection: close\r\n\r\n${body}`);
    });
  }

  // What Envoy refuses before any filter: the codec's header limits (header-limits.ts),
  // then the HCM's path normalization (path-normalization.ts), which also rewrites :path.
  private refusedAtEdge(req: http.IncomingMessage, res: http.ServerResponse, limits: EnvoyHeaderLimits): boolean {
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    let r: EdgeRefusal | null = envoyHeaderRefusal({ requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`, headers }, limits);
    const close = r !== null;
    if (!r) {
      const path = normalizePath(req.url ?? '/', this.opts.pathNormalization ?? 'NONE');
      if (path === null) r = { status: 400, body: '', details: 'path_normalization_failed' };
      else req.url = path;
    }
    if (!r) return false;
    const reply = prepareLocalReply(r.status, r.body, close ? [['connection', 'close']] : [], r.details);
    res.statusCode = r.status;
    // an HTTP/2 response carries no connection header (http-stream.ts H2_CONNECTION_SPECIFIC)
    const h2 = req.httpVersionMajor === 2;
    for (let i = 0; i < reply.headers.keys.length; i++) {
      const k = reply.headers.keys[i];
      if (k[0] !== ':' && !(h2 && k === 'connection')) res.setHeader(k, reply.headers.values[i]);
    }
    res.setHeader('server', 'envoy');
    req.resume();
    res.end(r.body);
    this.logEntries.push({ level: 'debug', message: `edge: ${r.status} ${r.details}`, vm: -1 });
    return true;
  }

  private newVm(f: FilterState, index: number): WasmVm {
    return new WasmVm(f.compiled, {
      vmId: f.plugin.vmId,
      vmConfiguration: f.plugin.vmConfiguration,
      sharedData: this.sharedData,
      stats: this.stats,
      clock: this.clock,
      logLevel: this.opts.logLevel,
      index,
      env: this.hostEnv,
      envs: f.spec.envs,
      logSink: (e) => this.logEntries.push(e),
    });
  }

  private vmKey(f: FilterState): string {
    return `${f.plugin.vmId}||${f.plugin.vmConfiguration}||${f.compiled.hash}`;
  }

  /** createWasm: the vm key's base VM (built before its canary) holds the vm_id. */
  private holdBase(f: FilterState): void {
    const key = this.vmKey(f);
    let b = this.bases.get(key);
    if (!b) {
      b = { handle: this.sharedData.holdVmId(f.plugin.vmId), users: 0 };
      this.bases.set(key, b);
    }
    b.users++;
  }

  /** The base and its worker VMs go once nothing uses the vm key (~WasmBase, ~VmIdHandle). */
  private dropBase(key: string): void {
    const b = this.bases.get(key);
    if (!b || --b.users > 0) return;
    this.bases.delete(key);
    for (const w of this.workers) {
      const vm = w.vms.get(key);
      if (!vm) continue;
      w.vms.delete(key);
      const i = this.vms.indexOf(vm);
      if (i >= 0) this.vms.splice(i, 1);
    }
    b.handle.release();
  }

  /** Releases `key` once every retired root given to the returned callback has shut down. */
  private dropBaseAfter(key: string): { retire: (h: PluginHandle) => void; done: () => void } {
    let pending = 1;
    const one = () => {
      if (--pending === 0) this.dropBase(key);
    };
    return {
      retire: (h) => {
        pending++;
        this.retire(h, one);
      },
      done: one,
    };
  }

  /** getOrCreateThreadLocalWasm: one VM per vm key per worker; a failed one is replaced. */
  private workerVm(w: Worker, f: FilterState): WasmVm {
    const key = this.vmKey(f);
    const existing = w.vms.get(key);
    if (existing && !existing.failed) return existing;
    const vm = this.newVm(f, existing ? existing.index : this.vmIndex++);
    vm.initialize();
    w.vms.set(key, vm);
    if (existing) this.vms[this.vms.indexOf(existing)] = vm;
    else this.vms.push(vm);
    return vm;
  }

  async start(): Promise<void> {
    for (const spec of this.opts.filters) {
      const compiled = await compileModule(spec.wasm);
      this.filters.push({ spec, compiled, plugin: pluginFromSpec(spec) });
    }
    for (const f of this.filters) this.holdBase(f);
    for (const f of this.filters) {
      if (!runCanary(f.plugin, (i) => this.newVm(f, i))) {
        this.releaseBases();
        throw new WasmLoadError(`Unable to create Wasm HTTP filter ${f.plugin.name}`, 'ConfigureFailed');
      }
    }
    const n = this.opts.workers ?? 2;
    for (let i = 0; i < n; i++) {
      const w: Worker = { index: i, vms: new Map(), handles: [] };
      this.workers.push(w);
      for (const f of this.filters) {
        const vm = this.workerVm(w, f);
        const root = vm.startPlugin(f.plugin);
        if (!root || !vm.configurePlugin(root, f.plugin)) {
          throw new WasmLoadError(`Failed to configure thread-local Wasm plugin ${f.plugin.name}`, 'ConfigureFailed');
        }
        w.handles.push({ vm, root, plugin: f.plugin });
      }
    }
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen({ port: this.opts.port ?? 0, host: '127.0.0.1', backlog: ENVOY_TCP_BACKLOG_SIZE }, () => resolve());
    });
    this.port = (this.listener.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.flushTimer = setInterval(() => this.flushStats(), this.opts.statsFlushIntervalMs ?? 5000);
    this.flushTimer.unref();
    if (this.opts.admin) {
      const admin = http.createServer((req, res) => {
        const u = new URL(req.url ?? '/', 'http://admin');
        if (req.method !== 'GET' || u.pathname !== '/stats/prometheus') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('invalid path\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' }).end(this.prometheus(u.searchParams.has('usedonly')));
      });
      this.adminServer = admin;
      await new Promise<void>((resolve, reject) => {
        admin.once('error', reject);
        admin.listen({ port: this.opts.admin!.port ?? 0, host: '127.0.0.1', backlog: ENVOY_TCP_BACKLOG_SIZE }, () => resolve());
      });
      this.adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
    }
  }

  flushStats(): void {
    this.flushed = new Map([...this.stats.histograms].map(([k, v]) => [k, v.toArray()]));
  }

  prometheus(usedOnly = false): string {
    return renderPrometheus(this.stats, {
      statsTags: this.opts.statsTags ?? [], histogramBuckets: this.opts.histogramBucketSettings ?? [], usedOnly, flushed: this.flushed,
    });
  }

  reconfigure(rootId: string, configuration: string): boolean {
    const targets = this.filters.map((f, i) => [f, i] as const).filter(([f]) => f.spec.rootId === rootId);
    if (targets.length === 0) return false;
    for (const [f] of targets) {
      const next = makePlugin({ ...f.plugin, configuration });
      if (next.key !== f.plugin.key && !runCanary(next, (i) => this.newVm(f, i))) return false;
    }
    for (const [f, fi] of targets) {
      const next = makePlugin({ ...f.plugin, configuration });
      if (next.key === f.plugin.key) continue;
      f.plugin = next;
      for (const w of this.workers) {
        const old = w.handles[fi];
        let vm: WasmVm;
        try {
          vm = this.workerVm(w, f);
        } catch {
          w.handles[fi] = null; // no plugin handle on this worker: Envoy adds no filter
          continue;
        }
        const root = vm.startPlugin(next);
        if (!root || !vm.configurePlugin(root, next)) {
          w.handles[fi] = null;
        } else {
          w.handles[fi] = { vm, root, plugin: next };
        }
        if (old) this.retire(old);
      }
    }
    return true;
  }

  async replaceFilter(rootId: string, change: Partial<Omit<FilterSpec, 'rootId'>>): Promise<boolean> {
    const targets = this.filters.map((f, i) => [f, i] as const).filter(([f]) => f.spec.rootId === rootId);
    if (targets.length === 0) return false;
    const next: FilterState[] = [];
    for (const [f] of targets) {
      const spec = { ...f.spec, ...change };
      next.push({ spec, compiled: await compileModule(spec.wasm), plugin: pluginFromSpec(spec) });
    }
    // The new filter config comes up while the old one serves: its base VMs hold the vm_id
    // before the old ones let go, so shared data of an unchanged vm_id survives.
    for (const n of next) this.holdBase(n);
    if (!next.every((n) => runCanary(n.plugin, (i) => this.newVm(n, i)))) {
      for (const n of next) this.dropBase(this.vmKey(n));
      return false;
    }
    targets.forEach(([old, fi], t) => {
      const n = next[t];
      this.filters[fi] = n;
      const release = this.dropBaseAfter(this.vmKey(old));
      for (const w of this.workers) {
        const prev = w.handles[fi];
        let h: PluginHandle | null = null;
        try {
          const vm = this.workerVm(w, n);
          const root = vm.startPlugin(n.plugin);
          if (root && vm.configurePlugin(root, n.plugin)) h = { vm, root, plugin: n.plugin };
        } catch {
          // no plugin handle on this worker: Envoy adds no filter
        }
        w.handles[fi] = h;
        if (prev) release.retire(prev);
      }
      release.done();
    });
    return true;
  }

  removeFilter(rootId: string): boolean {
    let removed = false;
    for (let fi = this.filters.length - 1; fi >= 0; fi--) {
      const f = this.filters[fi];
      if (f.spec.rootId !== rootId) continue;
      removed = true;
      this.filters.splice(fi, 1);
      const release = this.dropBaseAfter(this.vmKey(f));
      for (const w of this.workers) {
        const [prev] = w.handles.splice(fi, 1);
        if (prev) release.retire(prev);
      }
      release.done();
    }
    return removed;
  }

  private retire(h: PluginHandle, after?: () => void): void {
    if (after) this.afterShutdown.set(h.root, after);
    if (h.root.activeStreams === 0) this.shutdownRoot(h.vm, h.root);
    else h.root.retired = true;
  }

  private shutdownRoot(vm: WasmVm, root: RootContext): void {
    const t = this.tickTimers.get(root);
    if (t) clearInterval(t);
    this.tickTimers.delete(root);
    if (vm.contexts.has(root.id)) vm.shutdownRoot(root);
    const after = this.afterShutdown.get(root);
    if (after) {
      this.afterShutdown.delete(root);
      after();
    }
  }

  private releaseBases(): void {
    for (const b of this.bases.values()) b.handle.release();
    this.bases.clear();
  }

  private releaseRoot(root: RootContext, vm: WasmVm): void {
    root.activeStreams--;
    if (root.retired && root.activeStreams === 0) {
      root.retired = false;
      this.shutdownRoot(vm, root);
    }
  }

  private armTick(vm: WasmVm, root: RootContext): void {
    if (this.opts.virtualTicks) { this.opts.virtualTicks.arm(vm, root); return; }
    const prev = this.tickTimers.get(root);
    if (prev) clearInterval(prev);
    this.tickTimers.delete(root);
    if (root.tickPeriodMs > 0) {
      const t = setInterval(() => vm.tick(root), root.tickPeriodMs);
      t.unref();
      this.tickTimers.set(root, t);
    }
  }

  private httpCall(req: HttpCallRequest, done: (r: HttpCallResponseData | null) => void): { cancel(): void } {
    const cluster = this.clusters.get(req.cluster)!;
    const headers: Record<string, string> = {};
    let method = 'GET';
    let path = '/';
    for (const [k, v] of req.headers) {
      const lk = k.toLowerCase();
      if (lk === ':method') method = v;
      else if (lk === ':path') path = v;
      else if (lk === ':authority') headers.host = v;
      else if (lk[0] !== ':') headers[lk] = v;
    }
    if (req.body.length) headers['content-length'] = String(req.body.length);
    let finished = false;
    const finish = (r: HttpCallResponseData | null) => {
      if (finished) return;
      finished = true;
      setImmediate(() => done(r));
    };
    const cr = http.request({ host: cluster.host, port: cluster.port, method, path, headers, agent: this.agent, setHost: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const hs: Pair[] = [[':status', String(res.statusCode)]];
        for (let i = 0; i < res.rawHeaders.length; i += 2) hs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        finish({ headers: hs, body: Buffer.concat(parts), trailers: [] });
      });
      res.on('error', () => finish(null));
    });
    cr.on('error', () => finish(null));
    if (req.timeoutMs > 0) cr.setTimeout(req.timeoutMs, () => cr.destroy());
    cr.end(req.body.length ? req.body : undefined);
    return { cancel: () => ((finished = true), cr.destroy()) };
  }

  setCluster(name: string, addr: ClusterSpec): void {
    const prev = this.clusters.get(name);
    this.clusters.set(name, { http2: prev?.http2, useDownstreamProtocol: prev?.useDownstreamProtocol, enableTrailers: prev?.enableTrailers, ...addr });
  }

  setUpstreamTimeout(ms: number): void {
    this.streamEnv.upstreamTimeoutMs = ms;
  }

  metrics(): Record<string, number> {
    return this.stats.snapshot();
  }

  histograms(): Record<string, number[]> {
    return Object.fromEntries([...this.stats.histograms].map(([k, v]) => [k, v.toArray()]));
  }

  logs(): LogEntry[] {
    return [...this.logEntries];
  }

  memoryPages(): number[] {
    return this.vms.map((vm) => vm.memoryPages);
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    const admin = this.adminServer;
    if (admin) await new Promise<void>((resolve) => { admin.close(() => resolve()); admin.closeAllConnections(); });
    for (const t of this.tickTimers.values()) clearInterval(t);
    this.tickTimers.clear();
    await new Promise<void>((resolve) => {
      this.listener.close(() => resolve());
      for (const s of this.h2sessions) s.destroy();
      for (const c of this.connections) c.destroy();
      for (const s of this.upgraded) s.destroy();
    });
    this.agent.destroy();
    this.h2Pool.close();
    for (const w of this.workers) {
      for (const h of w.handles) if (h && !h.vm.failed && h.vm.contexts.has(h.root.id)) h.vm.shutdownRoot(h.root);
    }
    // The process's VMs are gone: so are their vm_ids' shared data and queues.
    this.afterShutdown.clear();
    this.releaseBases();
  }
}

export async function startEnvoy(opts: EnvoyOptions): Promise<EnvoyGateway> {
  const gw = new Gateway(opts);
  await gw.start();
  return gw;
}
