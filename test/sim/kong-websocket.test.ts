// A WebSocket handshake through the Kong harness (issue 18 item 6). What Kong 3.9.3 and
// its nginx do, and what the harness must do the same:
// - kong/runloop/handler.lua access.before: an `Upgrade` header whose value is
//   "websocket" (any case) sets $upstream_upgrade = "websocket" and $upstream_connection
//   = "keep-alive, Upgrade"; templates/nginx_kong.lua sends them upstream as `Upgrade` and
//   `Connection` (proxy_set_header); any other upgrade goes as a plain request;
// - nginx ngx_http_proxy_module.c ngx_http_proxy_process_status/_header: a 101 from the
//   upstream to a request that had an Upgrade header switches to tunnelling
//   (ngx_http_upstream.c ngx_http_upstream_upgrade): the 101 goes to the client after
//   Kong's header_filter (X-Kong-* latencies, Via), with `Connection: upgrade`
//   (ngx_http_header_filter_module.c), and bytes flow both ways until a side closes;
// - the log phase runs when the tunnel closed: status 101, upstream_status "101",
//   latencies.proxy the time to the 101 (KONG_WAITING_TIME, set at header_filter,
//   kong/init.lua), receive 0 (no body filter ever ended: KONG_RECEIVE_TIME unset,
//   kong/pdk/log.lua serialize), request the whole life ($request_time).
// Each test failed on the harness before upgrades (the upstream saw a plain GET without
// Upgrade and the client got its 200).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { startKong, type KongGateway, type KongPluginSpec } from '../../sim/kong/index';
import { echoOf, handshake, wsUpstream } from '../support/websocket';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const router = (): KongPluginSpec => ({ name: 'router', dir: path.join(FIXTURES, 'router'), config: {} });

const routerLogs = (gw: KongGateway) => gw.logs().filter((l) => l.source === 'plugin' && l.plugin === 'router' && l.level === 'notice').map((l) => JSON.parse(l.message));
const WS = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };

describe('Kong harness: WebSocket upgrade', () => {
  let gw: KongGateway;
  let up: Awaited<ReturnType<typeof wsUpstream>>;
  let t0 = 1_000_000;

  beforeAll(async () => {
    // the upstream takes 30 ms (virtual) to answer the handshake
    up = await wsUpstream(async () => { await gw.setNow(t0 + 30); });
    gw = await startKong({ plugins: [router()], upstreams: { a: { host: '127.0.0.1', port: up.port } }, defaultUpstream: 'a', virtualClock: true });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('a 101 reaches the client through the tunnel, bytes flow both ways, and the log phase runs when it closes', async () => {
    t0 = 1_000_000;
    await gw.setNow(t0);
    gw.clearLogs();
    const r = await handshake(gw.port, WS);
    expect(r.kind).toBe('upgrade');
    if (r.kind !== 'upgrade') return;
    expect(r.status).toBe(101);
    // nginx's header filter writes Connection: upgrade for a 101; Kong's header_filter its headers
    expect(r.headers.connection).toBe('upgrade');
    expect(r.headers.upgrade).toBe('websocket');
    expect(r.headers['sec-websocket-accept']).toBe('x');
    expect(r.headers['x-kong-upstream-latency']).toBe('30');
    expect(r.headers.via).toBe('1.1 kong/3.9.3');
    // Kong's own Upgrade/Connection went upstream (handler.lua access.before, nginx_kong.lua)
    const hs = up.seen.at(-1)!;
    expect(hs.upgrade).toBe('websocket');
    expect(hs.connection).toBe('keep-alive, Upgrade');
    expect(hs['sec-websocket-key']).toBe(WS['sec-websocket-key']);
    expect(await echoOf(r.socket, 'ping-1')).toBe('ping-1');
    expect(await echoOf(r.socket, 'ping-2')).toBe('ping-2');
    // the tunnel is open: no log phase yet
    await new Promise((ok) => setTimeout(ok, 50));
    expect(routerLogs(gw)).toEqual([]);
    // the tunnel lives 5 s (virtual), then the upstream closes it
    await gw.setNow(t0 + 30 + 5000);
    const closed = new Promise<void>((ok) => r.socket.on('close', () => ok()));
    up.sockets.at(-1)!.end();
    await closed;
    await gw.logDone();
    const logs = routerLogs(gw);
    expect(logs).toHaveLength(1);
    expect(logs[0].status).toBe(101);
    const s = logs[0].serialized;
    expect(s.response.status).toBe(101);
    expect(s.upstream_status).toBe('101');
    expect(s.latencies.proxy).toBe(30);
    expect(s.latencies.receive).toBe(0);
    expect(s.latencies.request).toBe(5030);
  });

  it('the client closing the tunnel closes the upstream side and ends the request', async () => {
    t0 = 2_000_000;
    await gw.setNow(t0);
    gw.clearLogs();
    const r = await handshake(gw.port, WS);
    if (r.kind !== 'upgrade') throw new Error(`no upgrade: ${r.status}`);
    const upSock = up.sockets.at(-1)!;
    // the upstream sees its connection end (FIN; the test server keeps half-open sockets)
    const upClosed = new Promise<void>((ok) => { upSock.on('end', () => ok()); upSock.on('close', () => ok()); });
    await gw.setNow(t0 + 30 + 700);
    r.socket.end();
    await upClosed;
    await gw.logDone();
    const logs = routerLogs(gw);
    expect(logs.map((l) => [l.status, l.serialized.latencies.proxy, l.serialized.latencies.request])).toEqual([[101, 30, 730]]);
  });

  it('an Upgrade other than websocket goes upstream as a plain request (no Upgrade, Connection keep-alive)', async () => {
    t0 = 3_000_000;
    await gw.setNow(t0);
    const r = await handshake(gw.port, { connection: 'Upgrade', upgrade: 'h2c' });
    expect(r.kind).toBe('response');
    expect(r.status).toBe(200);
    const hs = up.seen.at(-1)!;
    expect(hs.upgrade).toBeUndefined();
    expect(hs.connection).toBe('keep-alive');
  });
});
