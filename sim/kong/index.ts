// Kong runtime harness: plays Kong 3.9's side of the plugin-server protocol
// against the real kong-js-pluginserver and gives the PDK calls their effect on
// real HTTP traffic on loopback. See README.md beside this file for what is
// modelled from which Kong source, and where it differs from real Kong.

import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PluginServer } from './plugin-server';
import { Clock, Gateway, type LogEntry } from './gateway';
import { configFieldsOf, newPluginId, validateConfig, type LoadedPlugin, type PluginScope } from './plugin-registry';
import type { LogLevel } from './pdk';

export { PluginServer, PLUGIN_SERVER_BIN, KONG_PDK_PLUGIN_SERVER_BIN, STEP_METHOD_BY_PDK, type PluginInfo, type PdkCall } from './plugin-server';
export { RpcPool, RpcError } from './rpc-client';
export { KongSchemaViolation, storedConfig } from './schema';
export { cjsonEncode, luaRoundTrip } from './lua-values';
export type { LogEntry } from './gateway';
export type { LogLevel } from './pdk';

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
}

export interface KongGatewayOptions {
  plugins: KongPluginSpec[];
  upstreams: Record<string, { host: string; port: number }>;
  /** the Service's upstream */
  defaultUpstream: string;
  /** default false */
  virtualClock?: boolean;
  /** connect/send/read timeout of every upstream try (Service default 60000) */
  upstreamTimeoutMs?: number;
  /** Service `retries` (Kong default 5): failed tries are retried like nginx does */
  retries?: number;
  /** 0 = ephemeral */
  port?: number;
  /** level logs() returns from by default (Kong's log_level default: notice) */
  logLevel?: LogLevel;
  /** timeout of each call to a plugin server (lua_socket_read_timeout 60 s) */
  rpcTimeoutMs?: number;
  /** lua_max_pending_timers of the worker (Kong's nginx template: 16384); caps log timers */
  maxPendingTimers?: number;
  /** lua_max_running_timers of the worker (Kong's nginx template: 4096); caps log timers */
  maxRunningTimers?: number;
  /** observer of each request about to be proxied (tandem simulate reads decisions from it) */
  onUpstreamRequest?: (a: { upstream: string; headers: Record<string, string | string[]> }) => void;
}

export interface RpcStats {
  access: number[];
  /** per request, the PDK methods its access phase called (Step round trips, in order) */
  accessCalls: string[][];
  log: number[];
  rewrite: number[];
  response: number[];
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
  /** new plugin config (new __seq__/__key__ -> new StartInstance); throws on Kong schema errors */
  configure(pluginName: string, config: Record<string, unknown>): Promise<void>;
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
   * run at expiry (running cap, an alert). Only Kong can count these: the plugin
   * server receives nothing for them.
   */
  logTimers(): { droppedPending: number; droppedRunning: number };
  timerLimits(): { maxPendingTimers: number; maxRunningTimers: number };
  /** the plugin server process of a plugin (kill it, CloseInstance, ...) */
  pluginServer(pluginName: string): PluginServer;
  /** the instance id Kong currently uses for a plugin, if started */
  instanceId(pluginName: string): number | undefined;
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
      });
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
      onUpstreamRequest: opts.onUpstreamRequest,
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
      async configure(pluginName, config) {
        const p = byName(pluginName);
        p.stored = validateConfig(p.configFields, config); // throws KongSchemaViolation
        g.rebuildIterator();
      },
      rpcStats: () => g.rpcStats(),
      resetStats: () => g.resetStats(),
      logs: (minLevel) => g.logs(minLevel),
      clearLogs: () => g.clearLogs(),
      logDone: () => g.logDone(),
      logTimers: () => ({ ...g.droppedTimers }),
      timerLimits: () => ({ maxPendingTimers: g.cfg.maxPendingTimers, maxRunningTimers: g.cfg.maxRunningTimers }),
      pluginServer: (name) => byName(name).server,
      instanceId: (name) => g.instances.current(byName(name)),
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
