// Kong's request runloop for one Service + one Route, with the external plugins
// of the test (kong/init.lua Kong.rewrite/access/balancer/header_filter/
// body_filter/log/response, kong/runloop/handler.lua, plugin_servers/*).
//
//   rewrite  global-scoped plugins only (plugins_iterator NON_COLLECTING_PHASES)
//   access   every plugin by descending priority, each in its own coroutine
//            with delay_response: the first exit wins, later handlers are
//            skipped, a Lua error becomes 500 "An unexpected error occurred"
//   proxy    balancer tries (retries + 1) against the chosen upstream
//   response only when a plugin has a `response` phase: the upstream response
//            is buffered whole first (Kong.response)
//   log      after the response went out, each plugin in its own timer, with
//            the data plugin.lua saves (serialize, headers, status, ctx.shared)

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { HeaderList, normalizeMultiHeader } from './headers';
import { cjsonEncode, luaToString, toMsgpack } from './lua-values';
import { callPdk, type KongEnv, type LogLevel } from './pdk';
import { KongRequestState, kongRequestId, type ExitResponse, type Phase } from './request-state';
import { buildSerialize, SERVER_HEADER } from './serialize';
import { attempt, computeForwarded, passUpstreamHeaders, IDEMPOTENT } from './proxy';
import { handlerError, responseTypeFor, renderError } from './error-pages';
import { InstanceManager, kongConf, sortByPriority, type Ids, type LoadedPlugin } from './plugin-registry';
import { RpcError } from './rpc-client';
import { nginxRefusal, KONG_BUFFERS } from './edge';
import { H2Listener, headersFromH2 } from './h2';
import { attemptGrpc } from './grpc-upstream';
import { H2Response } from '../common/h2-stream';
import { GRPC_ROUTE_HEADERS, grpcRouteRefusal, isGrpcContentType, isGrpcRequest, shapeGrpcExit } from './grpc';
import { UpstreamPool, type UpstreamKeepalive } from './upstream-pool';

// Kong's proxy port listens with `backlog=16384` (kong/templates/kong_defaults.lua,
// proxy_listen = 0.0.0.0:8000 reuseport backlog=16384; nginx hands it to listen(2), the
// kernel caps it at net.core.somaxconn). Node's default (511) made the kernel drop the
// SYNs of a burst beyond 512 connections, each client then waiting for a SYN retry
// (1 s, 3 s, 7 s...) that Kong's clients would not wait for.
const PROXY_LISTEN_BACKLOG = 16384;

/** An upgrade request's client connection (raw after Node's parser); `open` once it tunnels. */
interface ClientTunnel { socket: Duplex; head: Buffer; open: boolean }

export interface LogEntry {
  level: LogLevel | 'emerg';
  message: string;
  /** plugin whose handler was running (Kong's namespaced log) */
  plugin?: string;
  /** 'plugin': kong.log.* from a plugin; 'kong': Kong itself; 'pluginserver': process output */
  source: 'plugin' | 'kong' | 'pluginserver';
}

const LEVELS = ['debug', 'info', 'notice', 'warn', 'err', 'crit', 'alert', 'emerg'];

export class Clock {
  private virtualMs: number | null = null;
  constructor(readonly virtual: boolean) {}
  now(): number {
    return this.virtualMs ?? Date.now();
  }
  set(ms: number) {
    this.virtualMs = ms;
  }
}

export interface GatewayConfig {
  plugins: LoadedPlugin[];
  upstreams: Map<string, { host: string; port: number }>;
  defaultUpstream: string;
  clock: Clock;
  timeoutMs: number;
  retries: number;
  logLevel: LogLevel;
  ids: Ids;
  /** lua_max_pending_timers / lua_max_running_timers of each worker (templates/nginx_kong.lua: 16384 / 4096) */
  maxPendingTimers: number;
  maxRunningTimers: number;
  /** nginx worker processes sharing the plugin servers (1 = the harness's historical single worker) */
  workers: number;
  /** routes after the first ('/', every plugin of `plugins`), each with its own route-scoped plugin entities */
  extraRoutes: ExtraRoute[];
  /** when a worker event posted by one worker reaches the workers (ms; 0 = the next turn of the loop) */
  workerEventDelayMs: number;
  /** observer of each try Kong is about to make (every balancer try, before its target is picked): the upstream name and the headers plugins left */
  onUpstreamRequest?: (a: { upstream: string; headers: Record<string, string | string[]> }) => void;
  /** Each request's log phase, as a logging plugin sees it: the request headers as the plugins left them. */
  onAccessLog?: (a: { requestHeaders: Record<string, string | string[]> }) => void;
  /** Each entry Kong's error log keeps (at or above logLevel: ngx_log_error drops lower levels). */
  onErrorLog?: (e: LogEntry) => void;
  /**
   * false: keep no per-request records (rpcStats) and no log entries (logs); onErrorLog
   * still sees every entry. For a gateway that runs for hours (the playground): kept, they
   * grow by a request state (its headers, serialize, timings) per request.
   */
  keepHistory: boolean;
  /** proxy_listen's http2 flag: h2c next to HTTP/1.1 on the proxy port (./h2.ts) */
  http2: boolean;
  /** the Service's protocol: 'grpc' goes through location @grpc (./grpc-upstream.ts) */
  serviceProtocol: 'http' | 'grpc';
  /** the first route's protocols */
  routeProtocols: string[];
  /**
   * A second Service, protocol grpc, on the same upstream, whose route takes the gRPC calls
   * (./grpc.ts GRPC_ROUTE_HEADERS) and runs the first route's plugin entities.
   */
  grpcRoute: boolean;
  /** kong.conf upstream_keepalive_pool_size / _max_requests / _idle_timeout (upstream-pool.ts) */
  upstreamKeepalive: UpstreamKeepalive;
}

export interface ExtraRoute {
  id: string;
  name: string;
  /** prefix paths */
  paths: string[];
  /** this route's own (route-scoped) plugin entities */
  plugins: LoadedPlugin[];
}

interface Route {
  entity: Record<string, unknown>;
  /** its Service's entity */
  service: Record<string, unknown>;
  paths: string[];
  /** its plugin entities, in Kong's order */
  plugins: LoadedPlugin[];
  /** the enabled ones among them: what the iterator runs for a request (rebuildIterator) */
  running: LoadedPlugin[];
}

/**
 * One nginx worker process. What is per worker in Kong: the plugin instance table
 * (plugin_servers/plugin.lua `running_instances`, module scope), the RPC connections
 * (rpc/mp_rpc.lua Rpc:call, a cosocket pool per worker) and the Lua timer counts
 * (lua-nginx-module ngx_http_lua_timer.c: lmcf->pending_timers/running_timers, per
 * worker), so lua_max_pending_timers / lua_max_running_timers cap each worker alone;
 * and the upstream keep-alive pools (Kong's balancer patch keeps them in the worker's Lua
 * registry: upstream-pool.ts).
 */
export class Worker {
  readonly instances: InstanceManager;
  readonly upstreamPool: UpstreamPool;
  pendingTimers = 0;
  runningTimers = 0;
  readonly droppedTimers = { droppedPending: 0, droppedRunning: 0 };
  constructor(
    readonly id: number,
    log: (level: 'err' | 'warn', msg: string, plugin?: string) => void,
    keepalive: UpstreamKeepalive,
  ) {
    this.instances = new InstanceManager(log, id);
    this.upstreamPool = new UpstreamPool(keepalive);
  }
}

export class Gateway {
  /** the first route's plugins (every plugin of the gateway's spec), in Kong's order */
  plugins: LoadedPlugin[];
  readonly routes: Route[];
  readonly workers: Worker[];
  /** worker 0's instance table */
  readonly instances: InstanceManager;
  readonly env: KongEnv;
  private readonly entries: LogEntry[] = [];
  private records: KongRequestState[] = [];
  private pendingLogs = new Set<Promise<void>>();
  private seq = 0; // ngx.shared.kong "plugins_iterator:__seq__"
  private requestSeq = 0;
  // Which worker accepted each connection. nginx serves a connection in the worker that
  // accepted it (ngx_event_accept); which worker that is the kernel decides (accept_mutex
  // is off by default since nginx 1.11.3, Kong's template does not set it): the harness
  // hands connections out round robin.
  private readonly workerOf = new WeakMap<object, Worker>();
  private accepted = 0;
  private readonly upgraded = new Set<Duplex>();
  server!: http.Server;
  private h2listener: H2Listener | null = null;

  constructor(readonly cfg: GatewayConfig) {
    this.plugins = sortByPriority(cfg.plugins);
    const n = Math.max(1, Math.floor(cfg.workers));
    this.workers = Array.from({ length: n }, (_, i) => new Worker(i, (level, msg, plugin) => this.log(level, msg, plugin), cfg.upstreamKeepalive));
    this.instances = this.workers[0].instances;
    const created = Math.floor(cfg.clock.now() / 1000);
    const { ids } = cfg;
    this.env = {
      upstreams: cfg.upstreams,
      nodeId: randomUUID(),
      log: (level, message, plugin, source = 'kong') => this.log(level, message, plugin, source),
      // Entities as the DAO returns them (nulls dropped).
      service: {
        id: ids.serviceId, name: 'tandem-service', protocol: cfg.serviceProtocol, host: cfg.defaultUpstream, port: 80,
        retries: cfg.retries, connect_timeout: cfg.timeoutMs, write_timeout: cfg.timeoutMs, read_timeout: cfg.timeoutMs,
        enabled: true, created_at: created, updated_at: created, ws_id: ids.workspaceId,
      },
      route: {
        id: ids.routeId, name: 'tandem-route', protocols: [...cfg.routeProtocols], paths: ['/'], strip_path: true,
        preserve_host: false, regex_priority: 0, https_redirect_status_code: 426, path_handling: 'v0',
        request_buffering: true, response_buffering: true, service: { id: ids.serviceId },
        created_at: created, updated_at: created, ws_id: ids.workspaceId,
      },
    };
    // The other routes of the Service: global- and service-scoped plugins run for them too,
    // route-scoped ones only for their own route (plugins_iterator.lua collect_plugins).
    // strip_path false: the harness does not strip a matched prefix from the upstream path.
    const shared = cfg.plugins.filter((p) => p.scope !== 'route');
    this.routes = [
      { entity: this.env.route, service: this.env.service, paths: ['/'], plugins: this.plugins, running: [] },
      ...cfg.extraRoutes.map((r) => ({
        entity: { ...this.env.route, id: r.id, name: r.name, paths: [...r.paths], strip_path: false },
        service: this.env.service,
        paths: r.paths,
        plugins: sortByPriority([...shared, ...r.plugins]),
        running: [],
      })),
    ];
    if (cfg.grpcRoute) {
      const service = { ...this.env.service, id: randomUUID(), name: 'tandem-grpc-service', protocol: 'grpc' };
      const entity = { ...this.env.route, id: randomUUID(), name: 'tandem-grpc-route', protocols: ['grpc', 'grpcs'],
        headers: { 'content-type': [...GRPC_ROUTE_HEADERS] }, service: { id: service.id } };
      this.grpcRoute = { entity, service, paths: ['/'], plugins: this.plugins, running: [] };
    }
    this.rebuildIterator();
  }

  private grpcRoute: Route | null = null;

  /** every plugin entity of every route */
  entities(): LoadedPlugin[] {
    return [...new Set(this.routes.flatMap((r) => r.plugins))];
  }

  /**
   * Every rebuild of the plugins iterator hands each config a new __seq__, and collects
   * only enabled entities: kong/runloop/plugins_iterator.lua (PluginsIterator.new) keeps
   * a plugin only when should_process_plugin holds, which needs `plugin.enabled`. A
   * disabled one never runs a phase, so the plugin server hears nothing of it.
   */
  rebuildIterator() {
    for (const p of this.entities()) p.conf = kongConf(p, this.cfg.ids, ++this.seq);
    for (const r of [...this.routes, ...(this.grpcRoute ? [this.grpcRoute] : [])]) r.running = r.plugins.filter((p) => p.enabled);
  }

  /** Prefix paths, the longest match wins (router/traditional.lua; 3.9's default traditional_compatible sorts the same way). */
  private routeFor(path: string): Route {
    let best = this.routes[0];
    let len = -1;
    for (const r of this.routes) for (const p of r.paths) if (path.startsWith(p) && p.length > len) (best = r), (len = p.length);
    return best;
  }

  /** log timers dropped, every worker's added up */
  get droppedTimers() {
    const d = { droppedPending: 0, droppedRunning: 0 };
    for (const w of this.workers) (d.droppedPending += w.droppedTimers.droppedPending), (d.droppedRunning += w.droppedTimers.droppedRunning);
    return d;
  }

  /**
   * plugin.lua reset_instance: the worker forgets every instance of the plugin at once,
   * then posts "plugin_server" "reset_instances" (kong.worker_events.post); init.lua
   * start registers reset_instances_for_plugin for it in every worker. resty.events
   * delivers a post to all workers, the poster included, through its broker: later,
   * never within the request that posted it.
   */
  private resetInstance(w: Worker, pluginName: string) {
    w.instances.reset(pluginName, this.entities());
    const deliver = () => {
      for (const x of this.workers) x.instances.reset(pluginName, this.entities());
      this.workerEvents.delivered++;
    };
    this.workerEvents.posted++;
    if (this.cfg.workerEventDelayMs > 0) setTimeout(deliver, this.cfg.workerEventDelayMs).unref();
    else setImmediate(deliver);
  }

  /** reset_instances events posted / delivered to the workers */
  readonly workerEvents = { posted: 0, delivered: 0 };

  log(level: LogEntry['level'], message: string, plugin?: string, source: LogEntry['source'] = 'kong') {
    const e: LogEntry = { level, message, plugin, source };
    if (this.cfg.keepHistory) this.entries.push(e);
    if (this.cfg.onErrorLog && LEVELS.indexOf(level) >= LEVELS.indexOf(this.cfg.logLevel)) this.cfg.onErrorLog(e);
  }

  logs(minLevel: LogLevel = this.cfg.logLevel): LogEntry[] {
    const min = LEVELS.indexOf(minLevel);
    return this.entries.filter((e) => LEVELS.indexOf(e.level) >= min);
  }

  clearLogs() {
    this.entries.length = 0;
  }

  rpcStats() {
    return {
      rewrite: this.records.map((r) => r.rpcs.rewrite),
      access: this.records.map((r) => r.rpcs.access),
      accessCalls: this.records.map((r) => [...r.accessCalls]),
      response: this.records.map((r) => r.rpcs.response),
      log: this.records.map((r) => r.rpcs.log),
      workers: this.records.map((r) => r.worker),
      instanceStarts: this.workers.reduce((n, w) => n + w.instances.starts, 0),
      instanceCloses: this.workers.reduce((n, w) => n + w.instances.closes, 0),
    };
  }

  resetStats() {
    this.records = [];
    for (const w of this.workers) (w.instances.starts = 0), (w.instances.closes = 0);
  }

  async logDone(): Promise<void> {
    while (this.pendingLogs.size) await Promise.all([...this.pendingLogs]);
  }

  private now() {
    return this.cfg.clock.now();
  }

  listen(port: number): Promise<number> {
    // nginx's header buffers (edge.ts) decide what is too large, not Node's parser: its
    // limit sits far above them, and it keeps every header field (nginx has no count limit).
    const ceiling = KONG_BUFFERS.clientHeaderBufferSize + KONG_BUFFERS.largeBuffers * KONG_BUFFERS.largeBufferSize;
    this.server = http.createServer({ maxHeaderSize: ceiling * 4 }, (req, res) => {
      this.handle(req, res).catch((e) => {
        this.log('crit', `harness failure: ${(e as Error).stack ?? e}`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    this.server.maxHeadersCount = 0;
    // (with http2 on, the listener deals the connections out: ./h2.ts)
    if (!this.cfg.http2) this.server.on('connection', (sock) => this.workerOf.set(sock, this.workers[this.accepted++ % this.workers.length]));
    // A request with Connection: upgrade and Upgrade: Node hands it over with the raw
    // socket. nginx serves it like any request (its answer through a response object of
    // its own) and tunnels after an upstream's 101 (respondUpgraded); a non-101 answer ends
    // the connection here.
    this.server.on('upgrade', (inReq: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const res = new http.ServerResponse(inReq);
      res.assignSocket(socket as Socket);
      res.shouldKeepAlive = false;
      const tunnel: ClientTunnel = { socket, head, open: false };
      this.upgraded.add(socket);
      socket.on('close', () => this.upgraded.delete(socket));
      socket.on('error', () => socket.destroy());
      res.on('finish', () => { if (!tunnel.open) socket.end(); });
      this.handle(inReq, res, tunnel).catch((e) => {
        this.log('crit', `harness failure: ${(e as Error).stack ?? e}`);
        socket.destroy();
      });
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      // Above even Node's ceiling: above nginx's buffers too (494 -> Kong's 400).
      const e = handlerError(err.code === 'HPE_HEADER_OVERFLOW' ? 494 : 400, undefined, undefined, kongRequestId()) as { status: number; body: string; contentType: string };
      socket.end(`HTTP/1.1 ${e.status} Bad Request\r\nContent-Type: ${e.contentType}\r\nContent-Length: ${Buffer.byteLength(e.body)}\r\nConnection: close\r\nServer: ${SERVER_HEADER}\r\n\r\n${e.body}`);
    });
    if (this.cfg.http2) {
      // `http2 on`: one TCP listener, h2c or HTTP/1.x per connection (./h2.ts)
      this.h2listener = new H2Listener(this.server, (req, res) => {
        this.handle(req, res).catch((e) => {
          this.log('crit', `harness failure: ${(e as Error).stack ?? e}`);
          if (!res.headersSent) res.writeHead(500).end();
          else res.destroy();
        });
      }, (sock) => this.workerOf.set(sock, this.workers[this.accepted++ % this.workers.length]));
      return this.h2listener.listen(port, PROXY_LISTEN_BACKLOG);
    }
    // A port in use rejects (startKong then stops the plugin servers it started).
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host: '127.0.0.1', backlog: PROXY_LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  async close() {
    await this.h2listener?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const s of this.upgraded) s.destroy(); // Node's server no longer tracks them
      for (const w of this.workers) w.upstreamPool.destroy();
    });
  }

  // ------------------------------------------------------------------ phases

  /** Rpc:handle_event, including the restart on "no plugin instance". */
  private async runHandler(p: LoadedPlugin, phase: Phase, req: KongRequestState): Promise<{ luaError?: string }> {
    req.plugin = { name: p.name, id: p.id };
    const w = this.workers[req.worker];
    let iid: number;
    try {
      iid = await w.instances.getInstanceId(p);
    } catch (e) {
      return { luaError: (e as Error).message }; // error(err) after "starting instance:"
    }
    let luaError: string | undefined;
    try {
      await p.server.bridge(
        iid,
        phase,
        async (call) => {
          if (phase === 'access') req.accessCalls.push(call.Method);
          const out = await callPdk(this.env, req, call.Method, call.Args);
          if ('stop' in out) return { stop: true };
          if ('luaError' in out) {
            luaError = out.luaError;
            return { stop: true };
          }
          return { value: toMsgpack(out.value) };
        },
        () => req.rpcs[phase]++,
        p.server.pool(w.id),
      );
    } catch (e) {
      const msg = e instanceof RpcError ? e.message : String(e);
      if (msg.toLowerCase().includes('no plugin instance')) {
        this.resetInstance(w, p.name);
        this.log('warn', msg, p.name);
        return this.runHandler(p, phase, req);
      }
      // Any other RPC failure is logged and the request goes on without it.
      this.log('err', msg, p.name);
      return {};
    }
    return { luaError };
  }

  private async handle(inReq: http.IncomingMessage, res: http.ServerResponse, tunnel: ClientTunnel | null = null) {
    const startMs = this.now();
    const sock = inReq.socket;
    const bytesBefore = sock.bytesWritten;
    const body = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      inReq.on('data', (c: Buffer) => chunks.push(c));
      inReq.on('end', () => resolve(Buffer.concat(chunks)));
      inReq.on('error', () => resolve(Buffer.concat(chunks)));
    });
    const h2 = inReq.httpVersionMajor === 2;
    const req = new KongRequestState(kongRequestId(), ++this.requestSeq, {
      method: inReq.method ?? 'GET',
      requestUri: inReq.url ?? '/',
      headers: h2 ? headersFromH2(inReq.rawHeaders) : HeaderList.fromRaw(inReq.rawHeaders),
      remoteAddr: sock.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
      remotePort: sock.remotePort ?? 0,
      serverPort: (sock.address() as AddressInfo).port,
      startMs,
      bodyPromise: body,
      defaultHost: this.cfg.defaultUpstream,
      retries: this.cfg.retries,
      timeoutMs: this.cfg.timeoutMs,
    });
    req.httpVersion = h2 ? 2 : inReq.httpVersion === '1.0' ? 1.0 : 1.1;
    // an h2 request's socket is the session's (Node's compatibility proxy)
    req.worker = (this.workerOf.get(h2 ? (inReq as unknown as { stream: { session: { socket: object } } }).stream.session.socket : sock) ?? this.workers[0]).id;
    // a route with headers outranks one without (router/traditional.lua): the gRPC route
    // takes every gRPC call
    const route = this.grpcRoute && isGrpcContentType(req.headers.first('content-type')) ? this.grpcRoute : this.routeFor(req.rawPath);
    req.route = route.entity;
    req.service = route.service;
    req.plugins = route.running;
    // nginx refuses an oversized head or an invalid URI before Kong's phases (edge.ts):
    // Kong's error handler answers, no plugin runs.
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < inReq.rawHeaders.length; i += 2) headers.push([inReq.rawHeaders[i], inReq.rawHeaders[i + 1]]);
    // (HTTP/2 fields are not read into those buffers: not modelled for h2, ./h2.ts)
    const refusal = h2 ? null : nginxRefusal({ requestLine: `${inReq.method} ${inReq.url} HTTP/${inReq.httpVersion}`, headers }, inReq.url ?? '/');
    if (refusal) {
      this.log('info', `${refusal.log} while reading client request headers`);
      inReq.resume();
      return this.sendKongError(req, res, refusal.status);
    }
    if (this.cfg.keepHistory) this.records.push(req);
    // Over HTTP/2 the socket is the session's, gone by the stream's close: its count is read
    // at finish (the connection's bytes meanwhile, other streams' frames included).
    let written = bytesBefore;
    res.on('finish', () => { if (typeof sock.bytesWritten === 'number') written = sock.bytesWritten; });
    const closed = new Promise<void>((resolve) =>
      res.on('close', () => {
        if (!req.upgraded && !res.writableFinished && !res.headersSent) req.status = 499; // client closed the connection
        req.bytesSent = (typeof sock.bytesWritten === 'number' ? sock.bytesWritten : written) - bytesBefore;
        resolve();
      }),
    );
    // Kong's log phase runs once the request is finalized (response sent).
    req.tunnel = tunnel;
    const pipeline = this.pipeline(req, res, startMs);
    await Promise.all([pipeline, closed]);
    this.startLogPhase(req);
  }

  private async pipeline(req: KongRequestState, res: http.ServerResponse, startMs: number) {
    // rewrite: global plugins only; an exit here is sent at once.
    const t = req.timings;
    t.rewriteStart = this.now();
    req.phase = 'rewrite';
    for (const p of req.plugins) {
      if (p.scope !== 'global' || !p.phases.has('rewrite')) continue;
      const r = await this.runHandler(p, 'rewrite', req);
      if (r.luaError) {
        this.log('err', r.luaError, p.name);
        return this.sendKongError(req, res, 500);
      }
      if (req.exit) return this.sendExit(req, res, req.exit);
    }
    t.rewriteEnd = this.now();

    // access
    t.accessStart = this.now();
    req.phase = 'access';
    req.forwarded = computeForwarded(req); // runloop access.before
    // access.before: a gRPC route's protocol checks answer before any plugin's access (./grpc.ts)
    const protoRefusal = grpcRouteRefusal((req.route.protocols as string[] | undefined) ?? [], req.headers.first('content-type'), req.httpVersion);
    if (protoRefusal) {
      t.accessEnd = this.now();
      t.responseLatency = t.accessEnd - startMs;
      return this.sendPdkError(req, res, protoRefusal.status, protoRefusal.message, protoRefusal.headers);
    }
    for (const p of req.plugins) {
      // once a response is delayed (exit or error), later handlers are skipped
      if (!p.phases.has('access') || req.exit || req.unexpected) continue;
      const r = await this.runHandler(p, 'access', req);
      if (r.luaError) {
        this.log('err', r.luaError, p.name);
        req.unexpected = true; // ctx.KONG_UNEXPECTED, delayed_response = 500
      }
    }
    t.accessEnd = this.now();
    if (req.exit || req.unexpected) {
      t.responseLatency = t.accessEnd - startMs;
      // flush_delayed_response: the exit's own callback, else kong.response.error
      if (req.exit) return this.sendExit(req, res, req.exit);
      return this.sendPdkError(req, res, 500, 'An unexpected error occurred');
    }
    return this.proxy(req, res);
  }

  private async proxy(req: KongRequestState, res: http.ServerResponse) {
    const t = req.timings;
    req.proxied = true; // ctx.KONG_PROXIED
    // the headers plugins left, for the observer only (built when there is one)
    const upstreamHeaders: Record<string, string | string[]> = {};
    if (this.cfg.onUpstreamRequest) {
      for (const [k, v] of req.headers.entries) {
        const lk = k.toLowerCase();
        const prev = upstreamHeaders[lk];
        upstreamHeaders[lk] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
    }
    // a grpc Service leaves for location @grpc before buffered proxying is considered
    // (handler.lua access.after: exec("@grpc") returns early): never buffered
    let buffered = !this.grpcService(req) && req.plugins.some((p) => p.phases.has('response'));
    if (buffered && req.upstreamUpgrade) {
      // Kong.access (init.lua): buffered proxying is turned off for an upgrade
      this.log('notice', `response buffering was turned off: connection upgrade (${req.upstreamUpgrade})`);
      buffered = false;
    }
    const body = req.upstreamBody ?? (await req.bodyPromise);
    const codes: number[] = [];
    let tryCount = 0;
    let freeTries = 0;
    t.balancerStart = this.now();
    for (;;) {
      tryCount++;
      // Observed per try, before its target is picked (balancer.execute runs again on a retry).
      this.cfg.onUpstreamRequest?.({ upstream: req.balancer.host, headers: { ...upstreamHeaders } });
      const target = this.resolveTarget(req);
      if (!target) {
        // balancer.execute could not resolve the host: access.after answers itself
        this.log('err', `DNS resolution failed: dns server error: 3 name error. Tried: ${req.balancer.host}`);
        req.proxied = false;
        return this.sendPdkError(req, res, 503, 'name resolution failed');
      }
      const now = this.now();
      const current: KongRequestState['balancer']['tries'][number] = {
        balancer_start: now,
        balancer_start_ns: now * 1e6,
        ip: target.host,
        port: target.port,
      };
      req.balancer.tries.push(current);
      t.balancerEnd = this.now();
      current.balancer_latency = t.balancerEnd - current.balancer_start;
      current.balancer_latency_ns = current.balancer_latency * 1e6;
      t.proxyLatency = t.balancerEnd - t.processingStart;
      const r = await (this.grpcService(req) ? attemptGrpc : attempt)({
        target,
        req,
        body,
        connectTimeoutMs: req.balancer.connectTimeout,
        readTimeoutMs: req.balancer.readTimeout,
        pool: this.workers[req.worker].upstreamPool,
      });
      if (r.kind === 'response') {
        codes.push(r.res.statusCode ?? 502);
        req.upstreamStatus = codes.join(', ');
        if (r.upgraded) return this.respondUpgraded(req, r.res, r.upgraded);
        return buffered ? this.respondBuffered(req, res, r.res) : this.respondStreaming(req, res, r.res);
      }
      codes.push(r.code);
      req.upstreamStatus = codes.join(', ');
      this.log('err', `${r.reason} while ${r.sent ? 'reading response header from' : 'connecting to'} upstream, upstream: "http://${target.host}:${target.port}${req.requestUri}"`);
      const retriable = !r.sent || IDEMPOTENT(req.method);
      // ngx_http_upstream_next: an error (not a timeout) on a kept-alive connection gives
      // the try back (`u->peer.cached && ft_type == NGX_HTTP_UPSTREAM_FT_ERROR`: tries++),
      // so it is tried again even with no retries left; a POST/PATCH/LOCK already written
      // is not (FT_NON_IDEMPOTENT), like on a new connection.
      if (r.cached && r.code === 502) freeTries++;
      if (tryCount - freeTries > req.balancer.retries || !retriable) return this.sendKongError(req, res, r.code);
      // A try's failure is written into `tries` only when the next try starts: Kong.balancer
      // (kong/init.lua, 3.9.3) sets previous_try.state, previous_try.code from
      // ngx.balancer get_last_failure() ("failed", 502 for an error, 504 for a timeout) on
      // every try after the first; nothing records the last try's, so a request whose last
      // try failed ends with a try that has no state.
      current.state = 'failed';
      current.code = r.code;
    }
  }

  /** The request's Service has protocol grpc: location @grpc. */
  private grpcService(req: KongRequestState): boolean {
    return (req.service ?? this.env.service).protocol === 'grpc';
  }

  private resolveTarget(req: KongRequestState): { host: string; port: number } | undefined {
    const b = req.balancer;
    const up = this.cfg.upstreams.get(b.host);
    if (up) return { ...up }; // an Upstream: its target (the port set_target gave is ignored)
    if (b.port !== undefined) return { host: b.host, port: b.port }; // set_target to a plain host
    return undefined;
  }

  private headerFilter(req: KongRequestState, headers: HeaderList) {
    const t = req.timings;
    t.headerFilterStart ??= this.now();
    if (req.proxied) {
      t.waitingTime ??= (t.responseStart ?? t.headerFilterStart) - (t.balancerEnd ?? t.accessEnd ?? t.headerFilterStart);
      t.proxyLatency ??= (t.responseStart ?? t.headerFilterStart) - t.processingStart;
      headers.set('X-Kong-Upstream-Latency', String(t.waitingTime));
      headers.set('X-Kong-Proxy-Latency', String(t.proxyLatency));
      const via = headers.first('via');
      // header_filter: proxy_http_version, "2" for a grpc upstream (handler.lua)
      const outbound = `${this.grpcService(req) ? '2' : '1.1'} ${SERVER_HEADER}`;
      headers.set('Via', via ? `${via}, ${outbound}` : outbound);
      if (!headers.has('server')) headers.set('Server', SERVER_HEADER);
    } else {
      t.responseLatency ??= t.headerFilterStart - t.processingStart;
      headers.set('X-Kong-Response-Latency', String(t.responseLatency));
      if (headers.first('via') !== SERVER_HEADER) headers.set('Server', SERVER_HEADER);
    }
    headers.set('X-Kong-Request-Id', req.id);
    // nginx answers "Connection: keep-alive" (node would add its own Keep-Alive header)
    // header_filter: "remove trailer response header when client didn't ask for them"
    if (req.proxied && !req.upstreamTe) headers.clear('trailer');
    // HTTP/2 has no connection header (nginx's h2 header filter writes none)
    if (req.httpVersion === 2) headers.clear('connection');
    else if (!headers.has('connection')) headers.set('Connection', req.headers.first('connection')?.toLowerCase() === 'close' ? 'close' : 'keep-alive');
  }

  private writeHead(req: KongRequestState, res: http.ServerResponse, status: number, headers: HeaderList) {
    this.headerFilter(req, headers);
    req.status = status;
    req.sentHeaders = headers;
    if (req.httpVersion === 2 && (headers.first('content-length') === '0' || req.method === 'HEAD')) {
      // no body: the head waits for end(), which sends it as HEADERS with END_STREAM
      // (ngx_http_v2_header_filter's fin; Node's writeHead would send it at once, without)
      res.statusCode = status;
      for (const [name] of headers.entries) res.setHeader(name, headers.all(name));
      return;
    }
    res.writeHead(status, headers.raw() as unknown as http.OutgoingHttpHeaders);
  }

  private endBody(req: KongRequestState, res: http.ServerResponse, body: Buffer) {
    // HTTP/2: no body ends the stream on the HEADERS frame (ngx_http_v2_header_filter: fin when
    // content_length_n is 0), where an empty write would send an empty DATA frame
    res.end(req.method === 'HEAD' || (req.httpVersion === 2 && body.length === 0) ? undefined : body, () => {
      req.timings.bodyFilterEnd = this.now();
      if (req.proxied) req.timings.receiveTime = req.timings.bodyFilterEnd - (req.timings.responseStart ?? req.timings.headerFilterStart ?? 0);
    });
  }

  /** pdk/response.lua send(): the response of kong.response.exit. */
  private sendExit(req: KongRequestState, res: http.ServerResponse, exit: ExitResponse) {
    const headers = req.responseHeaders.clone();
    let hasType = false;
    let hasLength = false;
    for (const [name, value] of Object.entries(exit.headers ?? {})) {
      const lower = name.toLowerCase();
      if (lower === 'transfer-encoding' || lower === 'transfer_encoding') {
        this.log('warn', 'manually setting Transfer-Encoding. Ignored.', req.plugin?.name);
      } else headers.set(name, normalizeMultiHeader(value, luaToString));
      if (lower === 'content-type' || lower === 'content_type') hasType = true;
      if (lower === 'content-length' || lower === 'content_length') hasLength = true;
    }
    // send()'s gRPC branch (./grpc.ts): a gRPC response gets grpc-status / grpc-message
    const grpc = shapeGrpcExit(exit.status, exit.body as Parameters<typeof shapeGrpcExit>[1], headers,
      isGrpcRequest(req.headers.first('content-type'), req.httpVersion), hasLength);
    if (grpc.grpc) {
      if (grpc.warn) this.log('warn', grpc.warn, req.plugin?.name);
      // Kong raises it in the plugin's exit call; the harness logs it and sends the rest
      if (grpc.luaError) this.log('err', grpc.luaError, req.plugin?.name);
      this.writeHead(req, res, exit.status, headers);
      return this.endBody(req, res, grpc.payload);
    }
    let payload: Buffer;
    if (exit.body !== undefined && typeof exit.body === 'object' && !(exit.body instanceof Uint8Array)) {
      payload = Buffer.from(cjsonEncode(exit.body), 'latin1'); // byte strings (lua-values.ts)
      if (!hasType) headers.set('Content-Type', 'application/json; charset=utf-8');
    } else if (exit.body !== undefined) {
      payload = exit.body instanceof Uint8Array ? Buffer.from(exit.body) : Buffer.from(String(exit.body), 'latin1');
    } else payload = Buffer.alloc(0);
    if (!hasLength) headers.set('Content-Length', String(payload.length));
    this.writeHead(req, res, exit.status, headers);
    this.endBody(req, res, payload);
  }

  /** kong.response.error as Kong itself uses it (flush_delayed_response, balancer failures). */
  private sendPdkError(req: KongRequestState, res: http.ServerResponse, status: number, message: string, extra: Record<string, string> = {}) {
    req.exited = true;
    // a gRPC request over HTTP/2: content-type application/grpc and no body (send() adds
    // grpc-status and grpc-message from the status)
    if (isGrpcRequest(req.headers.first('content-type'), req.httpVersion)) {
      return this.sendExit(req, res, { status, headers: { ...extra, 'Content-Type': 'application/grpc' } });
    }
    const ctype = responseTypeFor(req.headers.table(100)['accept']);
    this.sendExit(req, res, { status, body: renderError(ctype, message, req.id), headers: { ...extra, 'Content-Type': ctype } });
  }

  /** error_page -> Kong.handle_error (kong/error_handlers.lua). */
  private sendKongError(req: KongRequestState, res: http.ServerResponse, status: number) {
    req.exited = true; // the handler answers through kong.response.exit
    const e = handlerError(status, req.headers.first('accept'), req.headers.first('content-type'), req.id);
    if ('table' in e) return this.sendExit(req, res, { status: e.status, body: e.table });
    this.sendExit(req, res, { status: e.status, body: e.body, headers: { 'Content-Type': e.contentType } });
  }

  private respondStreaming(req: KongRequestState, res: http.ServerResponse, up: http.IncomingMessage) {
    const headers = passUpstreamHeaders(req.responseHeaders, up);
    const h2up = up as unknown as Partial<H2Response>;
    // grpc_pass: a HEADERS frame with END_STREAM (trailers-only) is a response of length 0
    // (ngx_http_grpc_module.c: content_length_n = 0), which nginx's h2 output sends as
    // HEADERS with END_STREAM and content-length: 0
    if (h2up.endStream) headers.set('Content-Length', '0');
    this.writeHead(req, res, up.statusCode ?? 502, headers);
    up.on('data', (c: Buffer) => res.write(c));
    up.on('end', () => {
      // the grpc module passes the upstream's trailers on (pass_trailers); nginx's h2 output
      // sends them as a trailing HEADERS frame. The log phase never sees them.
      if (req.httpVersion === 2 && up instanceof H2Response && h2up.rawTrailers?.length) {
        const t: Record<string, string> = {};
        for (let i = 0; i + 1 < h2up.rawTrailers.length; i += 2) t[h2up.rawTrailers[i]] = h2up.rawTrailers[i + 1];
        res.addTrailers(t);
      }
      this.endBody(req, res, Buffer.alloc(0));
    });
    up.on('aborted', () => res.destroy()); // upstream died mid-body: the client sees a cut response
    up.on('error', () => res.destroy());
  }

  /**
   * An upstream's 101 to a request that had an Upgrade header: nginx's
   * ngx_http_upstream_upgrade (ngx_http_upstream.c) sends the 101 through the header
   * filters (Kong.header_filter: its latency headers and Via, KONG_WAITING_TIME = the time to
   * the 101; nginx's header filter writes `Connection: upgrade` for a 101,
   * ngx_http_header_filter_module.c), then copies bytes both ways
   * (ngx_http_upstream_process_upgraded). No body filter ends, so KONG_RECEIVE_TIME stays
   * unset (serialize's receive 0). Either side's end closes both connections (the "upgraded
   * done" check: one side's EOF with its bytes passed on finalizes the request), and only
   * then does the log phase run: status 101, upstream_status "101", latencies.request the
   * tunnel's whole life. An upstream quiet for the Service's read_timeout closes it too
   * (proxy_read_timeout on the upgraded connection; the harness counts any traffic on it).
   */
  private respondUpgraded(req: KongRequestState, up: http.IncomingMessage, upgraded: { socket: Duplex; head: Buffer }) {
    const t = req.tunnel;
    if (!t) {
      upgraded.socket.destroy(); // cannot happen: only an upgrade request gets a 101 tunnel
      return;
    }
    req.upgraded = true;
    t.open = true;
    const headers = passUpstreamHeaders(req.responseHeaders, up);
    headers.set('Connection', 'upgrade');
    this.headerFilter(req, headers);
    req.status = up.statusCode ?? 101;
    req.sentHeaders = headers;
    const raw = headers.raw();
    const lines = [`HTTP/1.1 ${req.status} ${http.STATUS_CODES[req.status] ?? 'Unknown'}`, `Date: ${new Date().toUTCString()}`];
    for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    const client = t.socket;
    const server = upgraded.socket;
    client.write(lines.join('\r\n') + '\r\n\r\n');
    if (upgraded.head.length) client.write(upgraded.head);
    if (t.head.length) server.write(t.head);
    client.on('data', (d: Buffer) => server.write(d));
    server.on('data', (d: Buffer) => client.write(d));
    // ngx_close_connection once what was read is written: end, then close
    const done = () => {
      (server as Socket).destroySoon();
      (client as Socket).destroySoon();
    };
    client.on('end', done);
    server.on('end', done);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    server.on('error', () => server.destroy());
    (server as Socket).setTimeout(req.balancer.readTimeout, () => done());
  }

  /** Kong.response(): buffered proxying for plugins with a `response` phase. */
  private async respondBuffered(req: KongRequestState, res: http.ServerResponse, up: http.IncomingMessage) {
    const chunks: Buffer[] = [];
    const complete = await new Promise<boolean>((resolve) => {
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => resolve(true));
      up.on('aborted', () => resolve(false));
      up.on('error', () => resolve(false));
    });
    if (!complete && req.method !== 'HEAD') return this.sendKongError(req, res, 502); // res.truncated
    const t = req.timings;
    t.responseStart ??= this.now();
    t.waitingTime ??= t.responseStart - (t.balancerEnd ?? t.accessEnd ?? t.responseStart);
    const upstreamHeaders = passUpstreamHeaders(new HeaderList(), up);
    req.buffered = { status: up.statusCode ?? 502, headers: upstreamHeaders, body: Buffer.concat(chunks) };
    req.status = req.buffered.status;
    for (const [name] of upstreamHeaders.entries) req.responseHeaders.set(name, upstreamHeaders.all(name));
    req.phase = 'response';
    for (const p of req.plugins) {
      if (!p.phases.has('response')) continue;
      const r = await this.runHandler(p, 'response', req);
      if (r.luaError) {
        this.log('err', r.luaError, p.name);
        return this.sendKongError(req, res, 500);
      }
      if (req.exit) return this.sendExit(req, res, req.exit);
    }
    const headers = req.responseHeaders.clone();
    headers.set('Content-Length', String(req.buffered.body.length));
    this.writeHead(req, res, req.buffered.status, headers);
    this.endBody(req, res, req.buffered.body);
  }

  // ------------------------------------------------------------------ log

  private startLogPhase(req: KongRequestState) {
    // Kong.log runs for every request, proxied or answered by a plugin; a logging plugin
    // (file-log, http-log) logs kong.log.serialize(), whose request.headers are
    // ngx.req.get_headers() as the plugins left them (kong/pdk/log.lua serialize).
    this.cfg.onAccessLog?.({ requestHeaders: req.headers.table(100) as Record<string, string | string[]> });
    // Without an access phase nothing was collected: only global plugins log.
    const collected = req.timings.accessStart !== undefined;
    const plugins = req.plugins.filter((p) => p.phases.has('log') && (collected || p.scope === 'global'));
    if (!plugins.length) return;
    const t = req.timings;
    t.logStart = this.now();
    if (req.proxied) {
      t.waitingTime ??= t.logStart - (t.balancerEnd ?? t.logStart);
      t.proxyLatency ??= t.logStart - t.processingStart;
    } else t.responseLatency ??= t.logStart - t.processingStart;
    req.phase = 'log';
    const serialize = buildSerialize(
      { route: req.route, service: req.service ?? this.env.service, workspaceId: this.cfg.ids.workspaceId, now: t.logStart },
      req,
    );
    const saved = {
      serialize,
      ngxCtx: { ...req.ngxCtx },
      ctxShared: req.ctxShared, // the same table: log timers see each other's writes
      requestHeaders: req.headers.table(100),
      responseHeaders: req.sentHeaders.table(100),
      responseStatus: req.status,
      reqStartTime: t.processingStart / 1000,
    };
    const w = this.workers[req.worker];
    for (const p of plugins) {
      // Each plugin's log handler is its own native ngx.timer.at(0, ...) (plugin.lua
      // build_phases), whose return value Kong ignores: at lua_max_pending_timers the
      // call fails with "too many pending timers" and the outcome is gone, unlogged
      // (ngx_http_lua_timer.c ngx_http_lua_ngx_timer_helper).
      if (w.pendingTimers >= this.cfg.maxPendingTimers) {
        w.droppedTimers.droppedPending++;
        continue;
      }
      w.pendingTimers++;
      const view = req.logView(saved);
      const run = (async () => {
        await new Promise((r) => setImmediate(r));
        // Expired: no longer pending; at lua_max_running_timers it is not run, with an
        // alert in the error log (ngx_http_lua_timer.c ngx_http_lua_timer_handler).
        w.pendingTimers--;
        if (w.runningTimers >= this.cfg.maxRunningTimers) {
          w.droppedTimers.droppedRunning++;
          this.log('alert', `lua failed to run timer with function defined at @kong/runloop/plugin_servers/plugin.lua:152: ${this.cfg.maxRunningTimers} lua_max_running_timers are not enough`);
          return;
        }
        w.runningTimers++;
        try {
          const r = await this.runHandler(p, 'log', view);
          if (r.luaError) this.log('err', `lua entry thread aborted: runtime error: ${r.luaError}`, p.name);
        } finally {
          w.runningTimers--;
        }
      })().catch((e) => this.log('crit', `harness failure in log phase: ${(e as Error).stack ?? e}`, p.name));
      this.pendingLogs.add(run);
      run.finally(() => this.pendingLogs.delete(run));
    }
  }
}
