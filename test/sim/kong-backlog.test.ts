// Bursts of new connections, on both of Kong's sides:
//  - the proxy port: Kong listens with `backlog=16384` (kong/templates/kong_defaults.lua,
//    proxy_listen; nginx passes it to listen(2), the kernel caps it at
//    net.core.somaxconn). With Node's default of 511 the harness had the kernel drop
//    the SYNs of a burst beyond 512, and those clients waited for a SYN retry (1 s,
//    then 3 s, 7 s...), which Kong's clients would not.
//  - the plugin server's socket: kong-pdk listens with Node's default backlog (511),
//    tandem's start command with PLUGIN_SERVER_BACKLOG (capped at net.core.somaxconn);
//    beyond it a unix-socket connect fails at once with EAGAIN. nginx counts that as a
//    failed connect on Linux (ngx_event_connect.c ngx_event_connect_peer), the cosocket
//    returns its strerror lowercased, "resource temporarily unavailable"
//    (ngx_http_lua_socket_tcp.c ngx_http_lua_socket_prepare_error_retvals), and
//    mp_rpc.lua Rpc:call / handle_event log it and skip the plugin for that request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { KongGateway } from '../../sim/kong/index';
import net from 'node:net';
import { PLUGIN_SERVER_BACKLOG } from '../../plugins/server/tandem-pluginserver';
import { connectedWhileBlocked, somaxconn } from '../support/listen-backlog';
import { startEchoKong, type EchoKong } from '../support/kong-echo';

// Unix-socket connects to `socketPath` opened at once: how many the kernel queued, and
// how many it refused with EAGAIN (the listen backlog full).
function connectBurst(socketPath: string, n: number): Promise<{ connected: number; eagain: number; socks: net.Socket[] }> {
  const socks: net.Socket[] = [];
  let connected = 0, eagain = 0;
  return new Promise((resolve) => {
    let left = n;
    const done = () => { if (--left === 0) resolve({ connected, eagain, socks }); };
    for (let i = 0; i < n; i++) {
      const s = net.createConnection(socketPath);
      socks.push(s);
      s.once('connect', () => { connected++; done(); });
      s.once('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EAGAIN') eagain++; done(); });
    }
  });
}

let echo: EchoKong | undefined;
let gw: KongGateway;
let seen: Array<string | undefined> = [];

beforeAll(async () => {
  echo = await startEchoKong({ message: 'ran' });
  ({ gw, seen } = echo);
}, 60_000);

afterAll(async () => {
  await echo?.close();
});

describe('proxy port backlog (kong_defaults.lua proxy_listen backlog=16384)', () => {
  it('a burst of 1,500 connections completes its handshakes while the gateway accepts none', () => {
    const burst = 1500;
    expect(connectedWhileBlocked(gw.port, burst)).toBeGreaterThanOrEqual(Math.min(burst, somaxconn()));
  }, 60_000);
});

describe("plugin server's socket backlog (tandem's start command: PLUGIN_SERVER_BACKLOG, not kong-pdk's 511)", () => {
  it('a burst of 1,500 connects while the server accepts none is queued, none refused', async () => {
    const server = gw.pluginServer('echo');
    const burst = Math.min(1500, somaxconn());
    server.kill('SIGSTOP');
    let r: Awaited<ReturnType<typeof connectBurst>>;
    try {
      r = await connectBurst(server.socketPath, burst);
    } finally {
      server.kill('SIGCONT');
    }
    for (const s of r.socks) s.destroy();
    expect(r).toMatchObject({ connected: burst, eagain: 0 });
  }, 60_000);
});

describe("plugin server's backlog full", () => {
  it('a connect refused with EAGAIN is logged as Kong words it and the request goes on without the plugin', async () => {
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const get = () => new Promise<number>((resolve, reject) => {
      const r = http.get({ host: '127.0.0.1', port: gw.port, path: '/', agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      r.on('error', reject);
    });
    expect(await get()).toBe(200); // instance started, one pooled connection
    seen.length = 0;
    gw.clearLogs();
    const server = gw.pluginServer('echo');
    server.kill('SIGSTOP'); // accepts nothing: its backlog fills, later connects fail
    let statuses: number[];
    try {
      // beyond the backlog the server listens with (the kernel caps it at somaxconn)
      const burst = Array.from({ length: Math.min(PLUGIN_SERVER_BACKLOG, somaxconn()) + 300 }, get);
      // wait until some requests went on without the plugin (they reach the upstream)
      const deadline = Date.now() + 20_000;
      while (!seen.some((e) => e === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      server.kill('SIGCONT');
      statuses = await Promise.all(burst);
    } finally {
      server.kill('SIGCONT');
    }
    expect(statuses.every((s) => s === 200)).toBe(true); // every request answered
    const skipped = seen.filter((e) => e === undefined).length;
    expect(skipped).toBeGreaterThan(0); // without the plugin
    expect(seen.filter((e) => e === 'ran').length + skipped).toBe(statuses.length);
    const errs = gw.logs('err').filter((e) => e.plugin === 'echo').map((e) => e.message);
    expect(errs.length).toBeGreaterThanOrEqual(skipped); // (a failed Step after set_header logs too)
    expect(new Set(errs)).toEqual(new Set(['resource temporarily unavailable']));
    agent.destroy();
  }, 60_000);
});
