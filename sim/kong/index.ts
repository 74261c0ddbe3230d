// Kong runtime harness: plays Kong 3.9's side of the plugin-server protocol
// against the real kong-js-pluginserver and gives the PDK calls their effect on
// real HTTP traffic on loopback. See README.md beside this file for what is
// modelled from which Kong source, and where it differs from real Kong.

import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PluginServer } from './plugin-server';
import { Clock, Gateway, type ExtraRoute, type LogEntry } from './gateway';
import { configFieldsOf, newPluginId, validateConfig, type LoadedPlugin, type PluginScope } from './plugin-registry';
import type { LogLevel } from './pdk';
import { KONG_UPSTREAM_KEEPALIVE, type UpstreamKeepalive } from './upstream-pool';

export { PluginServer, PLUGIN_SERVER_BIN, KONG_PDK_PLUGIN_SERVER_BIN, STEP_METHOD_BY_PDK, type PluginInfo, type PdkCall } from './plugin-server';
export { RpcPool, RpcError } from './rpc-client';
export { KongSchemaViolation, storedConfig } from './schema';
export { cjsonEncode, luaRoundTrip } from './lua-values';
export type { LogEntry } from './gateway';
export type { LogLevel } from './pdk';
export { KONG_UPSTREAM_KEEPALIVE, type UpstreamKeepalive } from './upstream-pool';

export interface KongPluginSpec {
  name: string;
  /** absolute plugin directory, e.g. dist/kong/experiment */
  dir: string;
  /** user config, before Kong's defaults */
  config: Record<string, unknown>;
  /**
   * Where the plugin is attached (default 'route', like a KongPlugin on an
   * Ingress). Only 'global' plugins run their rewrite phase (plugins_iterator).
   */
  scope?: PluginScope;
  /**
   * The plugin entity's `instance_name` (db/schema/entities/plugins.lua; the Kong
   * Ingress Controller sets one for KongPlugins): Kong copies it into the config as
   * `plugin_instance_name` (plugins_iterator.lua get_plugin_config).
   */
  instanceName?: string;
  /** the plugin server's extra environment (e.g. { TANDEM_METRICS_PORT: "0" }: metrics on, any port) */
  env?: Record<string, string>;
  /**
   * The plugin entity's `enabled` (default true; KIC maps a KongPlugin's `disabled: true`
   * to false). Kong never runs a disabled entity: plugins_iterator.lua collects a plugin
   * only when should_process_plugin holds, which needs `plugin.enabled`. No handler, no
   * plugin-server round trip, no StartInstance. Its config is still schema-checked.
   */
  enabled?: boolean;
}

/** Another Route of the Service, with its own configs of plugins named in `plugins`. */
export interface KongRouteSpec {
  name: string;
  /** prefix paths (the longest match over all routes wins; the first route has '/') */
  paths: string[];
  /** plugin name -> this route's config: a route-scoped plugin entity of its own */
  plugins: Record<string, Record<string, unknown>>;
}

export interface KongGatewayOptions {
  /** the plugins, on the first route ('/') unless scoped 'service'/'global' */
  plugins: KongPluginSpec[];
  /** more routes, each with its own plugin configs (route scope) */
  routes?: KongRouteSpec[];
  /**
   * nginx worker processes (Kong's nginx_worker_processes; default 1 here). Every worker
   * has its own instance table, RPC connections and timer caps; all share the plugin
   * servers. Connections go to workers round robin.
   */
  workers?: number;
  /** when a worker event (reset_instances) reaches the workers, ms after it is posted (default 0: the next turn) */
  workerEventDelayMs?: number;
  /** the plugin server's start script (default tandem's; KONG_PDK_PLUGIN_SERVER_BIN: kong-pdk's own) */
  pluginServerBin?: string;
  upstreams: Record<string, { host: string; port: number }>;
  /** the Service's upstream */
  defaultUpstream: string;
  /** default false */
  virtualClock?: boolean;
  /** connect/send/read timeout of every upstream try (Service default 60000) */
  upstreamTimeoutMs?: number;
  /** Service `retries` (Kong default 5): failed tries are retried like nginx does */
  retries?: number;
  /**
   * The proxy_listen entry's `http2` flag (Kong's default has it on the TLS port only):
   * nginx's `http2 on`, cleartext h2 with prior knowledge next to HTTP/1.1 on the port
   * (./h2.ts). Default false: HTTP/1.x only.
   */
  http2?: boolean;
  /** The Service's protocol: 'grpc' proxies through location @grpc, HTTP/2 upstream (./grpc-upstream.ts). Default 'http'. */
  serviceProtocol?: 'http' | 'grpc';
  /** The first route's protocols (default ['http', 'https']); one naming grpc refuses HTTP/1.1 and non-gRPC requests (./grpc.ts). */
  routeProtocols?: string[];
  /**
   * A second Service with protocol grpc on the same upstream, and its route: protocols
   * [grpc, grpcs], matching gRPC calls by content-type (a route with headers outranks the
   * first route), running the first route's plugin entities. What a Kong serving gRPC and
   * HTTP on one upstream has; `tandem simulate --via kong` uses it with `http2`.
   */
  grpcRoute?: boolean;
  /** 0 = ephemeral */
  port?: number;
  /** Kong's log_level (default notice): what its error log keeps, and the level logs() returns from by default */
  logLevel?: LogLevel;
  /** each line written to Kong's error log (at or above logLevel), as it is written: the file a log shipper tails */
  onErrorLog?: (e: LogEntry) => void;
  /** timeout of each call to a plugin server (lua_socket_read_timeout 60 s) */
  rpcTimeoutMs?: number;
  /** lua_max_pending_timers of the worker (Kong's nginx template: 16384); caps log timers */
  maxPendingTimers?: number;
  /** lua_max_running_timers of the worker (Kong's nginx template: 4096); caps log timers */
  maxRunningTimers?: number;
  /** observer of each try about to be made, retries included (tandem simulate reads decisions from it) */
  onUpstreamRequest?: (a: { upstream: string; headers: Record<string, string | string[]> }) => void;
  /** Each request's log phase (gateway.ts startLogPhase): the request headers as the plugins left them. */
  onAccessLog?: (a: { requestHeaders: Record<string, string | string[]> }) => void;
  /**
   * false: rpcStats() and logs() keep nothing (onErrorLog still sees every entry), so a
   * long-running gateway (the playground) does not grow by every request it served.
   * Default true.
   */
  keepHistory?: boolean;
  /**
   * Upstream keep-alive (kong.conf upstream_keepalive_pool_size 512, _max_requests 10000,
   * _idle_timeout 60 s: KONG_UPSTREAM_KEEPALIVE); poolSize 0 turns it off (a connection per try).
   */
  upstreamKeepalive?: Partial<UpstreamKeepalive>;
}

export interface RpcStats {
  access: number[];
  /** per request, the PDK methods its access phase called (Step round trips, in order) */
  accessCalls: string[][];
  log: number[];
  rewrite: number[];
  response: number[];
  /** per request, the nginx worker that served it */
  workers: number[];
  /** StartInstance calls, all workers */
  instanceStarts: number;
  instanceCloses: number;
}

export interface KongGateway {
  url: string;
  port: number;
  /** virtual clock only */
  setNow(ms: number): Promise<void>;
  setUpstream(name: string, addr: { host: string; port: number }): void;
  /** The Service's connect/read/write timeout for the next tries (a config change in Kong). */
  setUpstreamTimeout(ms: number): void;
  /**
   * new plugin config (new __seq__/__key__ -> new StartInstance); throws on Kong schema
   * errors. `enabled` sets the entity's `enabled` too (default: unchanged).
   */
  configure(pluginName: string, config: Record<string, unknown>, opts?: { enabled?: boolean }): Promise<void>;
  /** round trips per request (arrival order), per phase; read log after logDone() */
  rpcStats(): RpcStats;
  resetStats(): void;
  /** log entries at or above `minLevel` (default: the gateway's logLevel) */
  logs(minLevel?: LogLevel): LogEntry[];
  clearLogs(): void;
  /** resolves when all pending log phases finished */
  logDone(): Promise<void>;
  /**
   * Log handlers Kong never ran: refused at ngx.timer.at (pending cap, silent) or not
   * run at expiry (running cap, an alert), all workers together. The plugin server
   * receives nothing for them; tandem's plugins infer them from carries never returned
   * (plugins/shared/outcome-ledger.ts), which tests compare with this count.
   */
  logTimers(): { droppedPending: number; droppedRunning: number };
  timerLimits(): { maxPendingTimers: number; maxRunningTimers: number };
  /**
   * Other Lua timers pending in every worker (Kong's own and other plugins' timers share
   * the worker's lua_max_pending_timers with the log timers): `count` more in each worker
   * until the returned release is called. `occupyTimers(maxPendingTimers)` fills the queue.
   */
  occupyTimers(count: number): () => void;
  /** the plugin server process of a plugin (kill it, CloseInstance, ...) */
  pluginServer(pluginName: string): PluginServer;
  /** the instance id worker 0 currently uses for a plugin on the first route, if started */
  instanceId(pluginName: string): number | undefined;
  /** per worker, the instance id it holds for a plugin on a route (default the first), if any */
  instanceIds(pluginName: string, route?: string): Array<number | undefined>;
  /** log handlers dropped, per worker */
  workerTimers(): Array<{ droppedPending: number; droppedRunning: number }>;
  /** reset_instances worker events posted / delivered */
  workerEvents(): { posted: number; delivered: number };
  /** the config object sent with the last StartInstance for a plugin */
  kongConfig(pluginName: string): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startKong(opts: KongGatewayOptions): Promise<KongGateway> {
  if (!opts.upstreams[opts.defaultUpstream]) throw new Error(`defaultUpstream "${opts.defaultUpstream}" is not in upstreams`);
  const clock = new Clock(!!opts.virtualClock);
  const names = new Set<string>();
  const servers: PluginServer[] = [];
  let gateway: Gateway | undefined;
  const early: string[] = []; // process output before the gateway exists
  // Kong joins each plugin server's stdout and stderr (plugin_servers/process.lua
  // pluginserver_timer: ngx_pipe.spawn(..., { merge_stderr = true })) and copies every
  // line to its error log at info, prefixed "[<server>:<pid>] " (process.lua grab_logs:
  // raw_log(ngx.INFO, prefix .. line)), so Kong's default log_level (notice) drops them.
  const pluginLog = (line: string) => (gateway ? gateway.log('info', line, undefined, 'pluginserver') : early.push(line));

  try {
    const loaded: LoadedPlugin[] = [];
    for (const spec of opts.plugins) {
      if (names.has(spec.name)) throw new Error(`plugin "${spec.name}" configured twice`);
      names.add(spec.name);
      const dir = path.resolve(spec.dir);
      // Kong >= 3.9 registers only the first plugin the query command reports.
      const [info] = await PluginServer.query(dir);
      if (!info) throw new Error(`plugin server in ${dir} reports no plugin`);
      if (info.Name !== spec.name) {
        throw new Error(`${spec.name} plugin is in use but not enabled (the plugin server in ${dir} reports "${info.Name}" first)`);
      }
      const configFields = configFieldsOf(info);
      const stored = validateConfig(configFields, spec.config ?? {});
      const server = await PluginServer.start(dir, {
        virtualClock: opts.virtualClock,
        onLog: pluginLog,
        rpcTimeoutMs: opts.rpcTimeoutMs,
        env: spec.env,
        bin: opts.pluginServerBin,
      });
      servers.push(server);
      loaded.push({
        name: spec.name,
        dir,
        scope: spec.scope ?? 'route',
        id: newPluginId(),
        instanceName: spec.instanceName,
        info,
        phases: new Set(info.Phases),
        configFields,
        stored,
        conf: {},
        server,
        enabled: spec.enabled ?? true,
      });
    }
    // Each extra route's configs: route-scoped plugin entities of their own (own id, own
    // route_id, own __key__), served by the plugin's one server.
    const extraRoutes: ExtraRoute[] = [];
    const routeNames = new Set<string>();
    for (const r of opts.routes ?? []) {
      if (routeNames.has(r.name)) throw new Error(`route "${r.name}" configured twice`);
      routeNames.add(r.name);
      const id = randomUUID();
      const plugins: LoadedPlugin[] = [];
      for (const [name, config] of Object.entries(r.plugins)) {
        const base = loaded.find((x) => x.name === name);
        if (!base) throw new Error(`route "${r.name}": no plugin "${name}" in plugins`);
        plugins.push({ ...base, scope: 'route', routeId: id, id: newPluginId(), instanceName: undefined, stored: validateConfig(base.configFields, config), conf: {}, enabled: true });
      }
      extraRoutes.push({ id, name: r.name, paths: r.paths, plugins });
    }
    const g = new Gateway({
      plugins: loaded,
      upstreams: new Map(Object.entries(opts.upstreams)),
      defaultUpstream: opts.defaultUpstream,
      clock,
      timeoutMs: opts.upstreamTimeoutMs ?? 60_000,
      retries: opts.retries ?? 5,
      logLevel: opts.logLevel ?? 'notice',
      ids: { workspaceId: randomUUID(), routeId: randomUUID(), serviceId: randomUUID() },
      // kong/templates/nginx_kong.lua: lua_max_running_timers 4096; lua_max_pending_timers 16384
      maxPendingTimers: opts.maxPendingTimers ?? 16384,
      maxRunningTimers: opts.maxRunningTimers ?? 4096,
      workers: opts.workers ?? 1,
      extraRoutes,
      workerEventDelayMs: opts.workerEventDelayMs ?? 0,
      onUpstreamRequest: opts.onUpstreamRequest,
      onAccessLog: opts.onAccessLog,
      onErrorLog: opts.onErrorLog,
      keepHistory: opts.keepHistory ?? true,
      http2: opts.http2 ?? false,
      serviceProtocol: opts.serviceProtocol ?? 'http',
      routeProtocols: opts.routeProtocols ?? ['http', 'https'],
      grpcRoute: opts.grpcRoute ?? false,
      upstreamKeepalive: { ...KONG_UPSTREAM_KEEPALIVE, ...opts.upstreamKeepalive },
    });
    gateway = g;
    for (const line of early.splice(0)) g.log('info', line, undefined, 'pluginserver');
    const port = await g.listen(opts.port ?? 0);
    const byName = (name: string) => {
      const p = g.plugins.find((x) => x.name === name);
      if (!p) throw new Error(`no plugin "${name}" in this gateway`);
      return p;
    };

    return {
      url: `http://127.0.0.1:${port}`,
      port,
      async setNow(ms: number) {
        if (!opts.virtualClock) throw new Error('setNow needs virtualClock: true');
        clock.set(ms);
        await Promise.all(servers.map((s) => s.setNow(ms)));
      },
      setUpstream(name, addr) {
        g.cfg.upstreams.set(name, { host: addr.host, port: addr.port });
      },
      setUpstreamTimeout(ms) {
        g.cfg.timeoutMs = ms;
      },
      async configure(pluginName, config, o) {
        const p = byName(pluginName);
        p.stored = validateConfig(p.configFields, config); // throws KongSchemaViolation
        if (o?.enabled !== undefined) p.enabled = o.enabled;
        g.rebuildIterator();
      },
      rpcStats: () => g.rpcStats(),
      resetStats: () => g.resetStats(),
      logs: (minLevel) => g.logs(minLevel),
      clearLogs: () => g.clearLogs(),
      logDone: () => g.logDone(),
      logTimers: () => ({ ...g.droppedTimers }),
      timerLimits: () => ({ maxPendingTimers: g.cfg.maxPendingTimers, maxRunningTimers: g.cfg.maxRunningTimers }),
      occupyTimers(count) {
        for (const w of g.workers) w.pendingTimers += count;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          for (const w of g.workers) w.pendingTimers -= count;
        };
      },
      pluginServer: (name) => byName(name).server,
      instanceId: (name) => g.instances.current(byName(name)),
      instanceIds(name, route) {
        const r = route === undefined ? undefined : extraRoutes.find((x) => x.name === route);
        if (route !== undefined && !r) throw new Error(`no route "${route}" in this gateway`);
        const p = r ? r.plugins.find((x) => x.name === name) : byName(name);
        if (!p) throw new Error(`no plugin "${name}" on route "${route}"`);
        return g.workers.map((w) => w.instances.current(p));
      },
      workerTimers: () => g.workers.map((w) => ({ ...w.droppedTimers })),
      workerEvents: () => ({ ...g.workerEvents }),
      kongConfig: (name) => structuredClone(byName(name).conf),
      async close() {
        await g.close();
        await Promise.race([g.logDone(), new Promise((r) => setTimeout(r, 2000))]);
        await Promise.all(servers.map((s) => s.close()));
      },
    };
  } catch (e) {
    await Promise.all(servers.map((s) => s.close()));
    throw e;
  }
}
