// One real `kong-js-pluginserver` process, driven the way Kong 3.9 drives it
// (kong/runloop/plugin_servers/process.lua + rpc/mp_rpc.lua):
//   query:  node kong-js-pluginserver --plugins-directory <abs dir> --dump-all-plugins
//   start:  node kong-js-pluginserver --plugins-directory <abs dir> -p <prefix> --sock-name <name>.socket
// Kong respawns a dead server (at most once a second); so does this class.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { RpcPool, RpcError } from './rpc-client';

// kong-pdk's own plugin server, and tandem's start command around it
// (plugins/server/tandem-pluginserver.ts: the same server, instance ids that never repeat
// across processes), built into dist/kong/ — the command deploy/kong/pluginserver.env
// starts, so the harness runs what users run. Beside this file in the CLI bundle
// (dist/cli -> dist/kong), or two levels up from sim/kong when run from source.
export const KONG_PDK_PLUGIN_SERVER_BIN = require.resolve('kong-pdk/bin/kong-js-pluginserver');
export const PLUGIN_SERVER_BIN = [
  path.join(__dirname, '..', 'kong', 'tandem-pluginserver.js'),
  path.join(__dirname, '..', '..', 'dist', 'kong', 'tandem-pluginserver.js'),
].find((f) => fs.existsSync(f)) ?? path.join(__dirname, '..', '..', 'dist', 'kong', 'tandem-pluginserver.js');
export const VIRTUAL_CLOCK_PRELOAD = path.join(__dirname, 'virtual-clock.cjs');

/** What `--dump-all-plugins` / GetPluginInfo report for one plugin. */
export interface PluginInfo {
  Name: string;
  Version?: string;
  Phases: string[];
  Priority: number;
  Schema: { name: string; fields: [{ config: { type: 'record'; fields: unknown[] } }] };
}

/** PDK calls that return typed objects go through a specific Step method (mp_rpc.lua). */
export const STEP_METHOD_BY_PDK: Record<string, string> = {
  'kong.client.get_credential': 'plugin.StepCredential',
  'kong.client.load_consumer': 'plugin.StepConsumer',
  'kong.client.get_consumer': 'plugin.StepConsumer',
  'kong.client.authenticate': 'plugin.StepCredential',
  'kong.node.get_memory_stats': 'plugin.StepMemoryStats',
  'kong.router.get_route': 'plugin.StepRoute',
  'kong.router.get_service': 'plugin.StepService',
  'kong.request.get_query': 'plugin.StepMultiMap',
  'kong.request.get_headers': 'plugin.StepMultiMap',
  'kong.response.get_headers': 'plugin.StepMultiMap',
  'kong.service.response.get_headers': 'plugin.StepMultiMap',
};

/** pdk.js never waits for a Step after these: the request ends with them. */
export const NON_RETURN_METHODS = new Set(['kong.response.exit', 'kong.response.error']);

export interface PdkCall {
  Method: string;
  Args: unknown;
}

/** What the caller of the bridge loop does with one PDK call. */
export type StepReply =
  | { value: unknown } // Step (or the typed Step* method)
  | { error: string } // StepError
  | { stop: true }; // answer nothing: the event is abandoned (exit, Lua error)

export interface BridgeResult {
  rpcs: number;
  /** the PDK call on which the loop stopped, if it did not end with "ret" */
  stoppedAt?: PdkCall;
}

export interface PluginServerOptions {
  virtualClock?: boolean;
  /** the start command's script (run with node); tandem's by default */
  bin?: string;
  /** directory holding the socket (Kong's prefix); a temp dir by default */
  prefix?: string;
  sockName?: string;
  /** output lines of the process, as Kong's grab_logs reads them */
  onLog?: (line: string) => void;
  /** called with the socket's notifications (Kong: serverPid) */
  onNotification?: (label: string, args: unknown) => void;
  /** cosocket read timeout for every call (lua_socket_read_timeout 60 s) */
  rpcTimeoutMs?: number;
  /** pooled idle connections (lua_socket_pool_size 30) */
  poolSize?: number;
  /**
   * Variables added to the process environment (a start command `env NAME=value ...`,
   * e.g. TANDEM_METRICS_PORT: plugins/shared/metrics.ts).
   */
  env?: Record<string, string>;
}

// The line tandem's plugin server prints once its /metrics server listens
// (plugins/shared/metrics.ts METRICS_ON).
const METRICS_LINE = /^tandem: metrics on (http:\/\/\S+)$/;

// Servers not closed yet. A process that exits without closing them (process.exit after
// a signal or a closed stdout, an uncaught error) would leave each kong-js-pluginserver
// running with parent 1 and its socket folder in the temp dir: the 'exit' event ends
// them. Only synchronous work runs there; kill() and rmSync are.
const live = new Set<PluginServer>();
let exitHooked = false;

/** End every plugin server of this process now, without waiting (the 'exit' hook). */
export function endAllPluginServers(): void {
  for (const s of live) s.endNow();
}

export class PluginServer {
  readonly socketPath: string;
  /** worker 0's connections (every nginx worker has its own: pool(worker)) */
  readonly rpc: RpcPool;
  private readonly pools: RpcPool[] = [];
  private child: ChildProcess | null = null;
  private closing = false;
  private lastSpawn = 0;
  private respawnTimer: NodeJS.Timeout | null = null;
  private nowAcks = new Map<number, () => void>();
  private nowSeq = 0;
  private virtualNow: number | null = null;
  private ownsPrefix = false;
  private metricsAt: string | null = null;
  private metricsWaiters: Array<(url: string) => void> = [];
  /** process ids over the life of this server (a respawn adds one) */
  readonly pids: number[] = [];
  /** resolves when the current process is accepting connections */
  private ready: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly opts: PluginServerOptions,
  ) {
    let prefix = opts.prefix;
    if (!prefix) {
      prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-kong-'));
      this.ownsPrefix = true;
    }
    live.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', endAllPluginServers);
    }
    this.socketPath = path.join(prefix, opts.sockName ?? `${path.basename(dir)}.socket`);
    this.rpc = new RpcPool(this.socketPath, {
      timeoutMs: opts.rpcTimeoutMs,
      poolSize: opts.poolSize,
      onNotification: opts.onNotification,
    });
    this.pools.push(this.rpc);
  }

  /**
   * The connections of one nginx worker: each worker's cosockets are its own (mp_rpc.lua
   * Rpc:call connects through the worker's keepalive pool; Rpc.msg_id counts per worker).
   */
  pool(worker = 0): RpcPool {
    while (this.pools.length <= worker) {
      this.pools.push(new RpcPool(this.socketPath, { timeoutMs: this.opts.rpcTimeoutMs, poolSize: this.opts.poolSize, onNotification: this.opts.onNotification }));
    }
    return this.pools[worker];
  }

  static async start(dir: string, opts: PluginServerOptions = {}): Promise<PluginServer> {
    if (!path.isAbsolute(dir)) throw new Error(`--plugins-directory must be absolute: ${dir}`);
    const ps = new PluginServer(dir, opts);
    ps.spawnProcess();
    try {
      await ps.ready;
    } catch (e) {
      // Nobody holds a server that failed to start: end it here, or its respawn timer
      // (process.lua's) keeps starting it and its socket folder stays in the temp dir.
      await ps.close();
      throw e;
    }
    return ps;
  }

  /** The query command Kong runs at startup (io.popen), parsed like process.lua. */
  static query(dir: string, bin = PLUGIN_SERVER_BIN): Promise<PluginInfo[]> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [bin, '--plugins-directory', dir, '--dump-all-plugins'],
        { maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) return reject(new Error(`query command failed: ${err.message}\n${stderr}`));
          try {
            const dump = JSON.parse(stdout);
            const list = Array.isArray(dump) ? dump : dump.Plugins;
            if (!Array.isArray(list)) throw new Error('not a plugin info table');
            resolve(list as PluginInfo[]);
          } catch (e) {
            reject(new Error(`failed decoding plugin info: ${(e as Error).message}\n${stdout}`));
          }
        },
      );
    });
  }

  /** The current process's /metrics address, once it printed it (metrics on: opts.env). */
  metricsUrl(timeoutMs = 5000): Promise<string> {
    if (this.metricsAt !== null) return Promise.resolve(this.metricsAt);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`plugin server ${path.basename(this.dir)}: no metrics address (is TANDEM_METRICS_PORT set?)`)), timeoutMs);
      this.metricsWaiters.push((u) => { clearTimeout(t); resolve(u); });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnProcess() {
    const args = [
      ...(this.opts.virtualClock ? ['--require', VIRTUAL_CLOCK_PRELOAD] : []),
      this.opts.bin ?? PLUGIN_SERVER_BIN,
      '--plugins-directory',
      this.dir,
      '-p',
      path.dirname(this.socketPath),
      '--sock-name',
      path.basename(this.socketPath),
    ];
    this.metricsAt = null;
    // stdin a pipe, as Kong's ngx_pipe.spawn gives it (plugin_servers/process.lua): tandem's
    // start command exits when it reads end-of-file there, so a harness process that dies
    // without closing this server (a test worker torn down) leaves no orphan behind.
    const child = spawn(process.execPath, args, {
      env: this.opts.env ? { ...process.env, ...this.opts.env } : process.env,
      stdio: this.opts.virtualClock ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.lastSpawn = Date.now();
    if (child.pid) this.pids.push(child.pid);
    const prefix = `[${path.basename(this.dir)}:${child.pid}] `;
    for (const stream of [child.stdout, child.stderr]) {
      const lines = new TerminalLines((l) => {
        const m = METRICS_LINE.exec(l);
        if (m) { this.metricsAt = m[1]; for (const w of this.metricsWaiters.splice(0)) w(m[1]); }
        this.opts.onLog?.(prefix + l);
      });
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => lines.push(d));
      stream?.on('end', () => lines.flush());
    }
    child.on('message', (m: { type?: string; id?: number }) => {
      if (m?.type === 'tandem:nowSet' && typeof m.id === 'number') {
        this.nowAcks.get(m.id)?.();
        this.nowAcks.delete(m.id);
      }
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        reject(new Error(`plugin server exited (${signal ?? code}) before it listened`));
      });
    });
    exited.catch(() => {});
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    this.ready = (async () => {
      await Promise.race([this.waitForSocket(), exited]);
      // A respawned server must see the virtual time the test already set.
      if (this.virtualNow !== null) await this.sendNow(this.virtualNow);
    })();
    this.ready.catch(() => {});
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) {
    if (this.child !== child) return;
    this.child = null;
    for (const ack of this.nowAcks.values()) ack();
    this.nowAcks.clear();
    for (const pool of this.pools) pool.flush();
    if (this.closing) return;
    this.opts.onLog?.(`external pluginserver '${path.basename(this.dir)}' terminated: exit ${signal ?? code}`);
    // process.lua: next_spawn = now + 1 after each start.
    const wait = Math.max(0, this.lastSpawn + 1000 - Date.now());
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = null;
      if (!this.closing) this.spawnProcess();
    }, wait);
  }

  // The harness's own patience, not Kong's: a loaded 2-core machine has taken over 20 s
  // to start a Node plugin server, and a test fails rather than wait past its own 60 s.
  private async waitForSocket(timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.createConnection(this.socketPath);
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`plugin server did not listen on ${this.socketPath}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Wait until a (re)spawned process accepts connections. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  call(method: string, arg: unknown, via: RpcPool = this.rpc): Promise<unknown> {
    return via.call(method, arg);
  }

  async info(name: string): Promise<PluginInfo> {
    return (await this.call('plugin.GetPluginInfo', name)) as PluginInfo;
  }

  /** StartInstance with a config object; Kong sends it JSON-encoded (cjson). */
  async startInstance(name: string, config: Record<string, unknown> | string, via?: RpcPool): Promise<number> {
    const Config = typeof config === 'string' ? config : JSON.stringify(config);
    const res = (await this.call('plugin.StartInstance', { Name: name, Config }, via)) as { Id: number };
    return res.Id;
  }

  async closeInstance(iid: number, via?: RpcPool): Promise<unknown> {
    return this.call('plugin.CloseInstance', iid, via);
  }

  /**
   * mp_rpc.lua's bridge_loop: HandleEvent, then answer each PDK call the
   * plugin makes until it says "ret". `onCall` decides each answer.
   */
  async bridge(
    iid: number,
    phase: string,
    onCall: (call: PdkCall) => Promise<StepReply> | StepReply,
    onRoundTrip?: () => void,
    via?: RpcPool,
  ): Promise<BridgeResult> {
    let rpcs = 1;
    onRoundTrip?.();
    let stepIn = (await this.call('plugin.HandleEvent', { InstanceId: iid, EventName: phase }, via)) as {
      EventId: number;
      Data: 'ret' | PdkCall;
    };
    const eventId = stepIn.EventId;
    while (stepIn.Data !== 'ret') {
      const call = stepIn.Data;
      const reply = await onCall(call);
      if ('stop' in reply) return { rpcs, stoppedAt: call };
      const method = 'error' in reply ? 'plugin.StepError' : (STEP_METHOD_BY_PDK[call.Method] ?? 'plugin.Step');
      // A nil result leaves Data out of the Lua table, so the key is absent.
      const data = 'error' in reply ? reply.error : reply.value;
      const arg = data === undefined ? { EventId: eventId } : { EventId: eventId, Data: data };
      rpcs++;
      onRoundTrip?.();
      stepIn = (await this.call(method, arg, via)) as typeof stepIn;
    }
    return { rpcs };
  }

  /**
   * Simple event runner for benchmarks: `pdk` answers every call (a throw is
   * sent back as StepError); exit/error end the event like they end a request.
   */
  async handleEvent(
    iid: number,
    phase: string,
    pdk: (method: string, args: any[]) => Promise<any> | any,
  ): Promise<{ rpcs: number; exit?: { status: number; body: any; headers: any } }> {
    const r = await this.bridge(iid, phase, async (call) => {
      if (NON_RETURN_METHODS.has(call.Method)) return { stop: true };
      try {
        return { value: await pdk(call.Method, Array.isArray(call.Args) ? call.Args : [call.Args]) };
      } catch (e) {
        return { error: (e as Error).message ?? String(e) };
      }
    });
    if (!r.stoppedAt) return { rpcs: r.rpcs };
    const [status, body, headers] = (r.stoppedAt.Args as unknown[]) ?? [];
    return { rpcs: r.rpcs, exit: { status: status as number, body, headers } };
  }

  /** Set the virtual clock of the process; resolves once it acknowledged. */
  async setNow(ms: number): Promise<void> {
    if (!this.opts.virtualClock) throw new Error('setNow needs virtualClock: true');
    this.virtualNow = ms;
    await this.sendNow(ms);
  }

  private sendNow(ms: number): Promise<void> {
    const child = this.child;
    if (!child || !child.connected) return Promise.resolve(); // respawn will resend
    const id = ++this.nowSeq;
    return new Promise((resolve) => {
      this.nowAcks.set(id, resolve);
      child.send({ type: 'tandem:setNow', id, ms });
    });
  }

  /** Kill the process (tests of Kong's respawn); it comes back like in Kong. */
  kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.child?.kill(signal);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    for (const pool of this.pools) pool.close();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM'); // process.lua stops servers with SIGTERM
      });
    }
    if (this.ownsPrefix) fs.rmSync(path.dirname(this.socketPath), { recursive: true, force: true });
    live.delete(this);
  }

  /** Synchronous close for process exit: SIGTERM the process (as close does), remove the prefix. */
  endNow(): void {
    this.closing = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    if (this.ownsPrefix) fs.rmSync(path.dirname(this.socketPath), { recursive: true, force: true });
    live.delete(this);
  }
}

export { RpcError };

/**
 * node-color-log (the server's logger) draws each line in several steps,
 * moving the cursor up ("\x1b[1A") to redraw it. Keep only the final text of
 * each line, without colours.
 */
class TerminalLines {
  private rest = '';
  private pending: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly emit: (line: string) => void) {}

  push(data: string) {
    const parts = (this.rest + data).split('\n');
    this.rest = parts.pop() ?? '';
    for (const raw of parts) {
      if (raw.startsWith('\x1b[1A')) this.pending = raw.slice(4);
      else {
        this.emitPending();
        this.pending = raw;
      }
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), 20);
    this.timer.unref();
  }

  flush() {
    this.emitPending();
    if (this.rest) {
      this.pending = this.rest;
      this.rest = '';
      this.emitPending();
    }
  }

  private emitPending() {
    const text = this.pending?.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim();
    this.pending = null;
    if (text) this.emit(text);
  }
}
