// Kong keeps upstream connections alive (kong.conf upstream_keepalive_pool_size 512,
// upstream_keepalive_max_requests 10000, upstream_keepalive_idle_timeout 60 s; Kong.balancer
// in kong/init.lua: set_current_peer with pool "ip|port", enable_keepalive), in one pool
// per nginx worker (Kong's patch ngx_lua-0.10.26_01-dyn_upstream_keepalive.patch to
// ngx_http_lua_balancer.c). A request that fails with an error on a kept-alive connection
// is tried again without spending one of the Service's retries (ngx_http_upstream.c
// ngx_http_upstream_next: `u->peer.cached && ft_type == FT_ERROR` -> tries++), but a
// POST/PATCH/LOCK already written is not (FT_NON_IDEMPOTENT is not in Kong's
// proxy_next_upstream "error timeout"). The old harness opened a fresh connection per try.

import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { rawRequest } from '../support/raw-http';

import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, type KongGateway, type KongGatewayOptions } from '../../sim/kong/index';

/** One request on its own client connection (Connection: close), the whole answer. */
const rawText = async (port: number, lines: string[], body = ''): Promise<string> => (await rawRequest(port, lines, body)).text;

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const router = { name: 'router', dir: path.join(FIXTURES, 'router'), config: {} };

interface Upstream {
  port: number;
  /** per request, in arrival order: which connection (0, 1, ...) and its method */
  hits: Array<{ conn: number; method: string; nth: number }>;
  /** connections the upstream saw closed, by index */
  closed: Set<number>;
  server: http.Server;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, hit: { conn: number; nth: number }) => void;

async function upstream(handler?: Handler): Promise<Upstream> {
  const sockets: net.Socket[] = [];
  const perConn: number[] = [];
  const hits: Upstream['hits'] = [];
  const closed = new Set<number>();
  const server = http.createServer((req, res) => {
    req.resume();
    const conn = sockets.indexOf(req.socket);
    const nth = ++perConn[conn];
    hits.push({ conn, method: req.method ?? '', nth });
    if (handler) return handler(req, res, { conn, nth });
    res.end('ok');
  });
  server.on('connection', (s: net.Socket) => {
    const i = sockets.push(s) - 1;
    perConn[i] = 0;
    s.on('close', () => closed.add(i));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    closed,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}


const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
};

let gw: KongGateway | undefined;
let up: Upstream | undefined;
afterEach(async () => {
  await gw?.close();
  await up?.close();
  gw = undefined;
  up = undefined;
});

async function kong(u: Upstream, extra: Partial<KongGatewayOptions> = {}): Promise<KongGateway> {
  gw = await startKong({ plugins: [router], upstreams: { a: { host: '127.0.0.1', port: u.port } }, defaultUpstream: 'a', ...extra });
  return gw;
}

async function lastSerialized(g: KongGateway) {
  await g.logDone();
  const notes = g.logs().filter((l) => l.source === 'plugin' && l.plugin === 'router' && l.level === 'notice');
  return JSON.parse(notes.at(-1)!.message).serialized;
}

describe('Kong harness: upstream keep-alive (Kong.balancer enable_keepalive, one pool per worker)', () => {
  it('sequential requests reuse one upstream connection', async () => {
    up = await upstream();
    const g = await kong(up);
    for (let i = 0; i < 3; i++) expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 0, 0]);
    expect(up.closed.size).toBe(0);
  }, 60_000);

  it('GET on a kept-alive connection the upstream drops before answering: tried again at no cost to retries (0 here)', async () => {
    // the second request on a connection is dropped unanswered: the stale keep-alive race
    up = await upstream((req, res, { nth }) => (nth === 2 ? req.socket.destroy() : res.end('ok')));
    const g = await kong(up, { retries: 0 });
    expect(statusOf(await rawText(g.port, ['GET /one HTTP/1.1', 'Host: kong']))).toBe(200);
    g.clearLogs();
    expect(statusOf(await rawText(g.port, ['GET /two HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 0, 1]);
    const s = await lastSerialized(g);
    expect(s.upstream_status).toBe('502, 200');
    expect(s.tries).toHaveLength(2);
    expect(s.tries[0]).toMatchObject({ state: 'failed', code: 502 });
    expect(s.tries[1].state).toBeUndefined();
    expect(g.logs().some((l) => l.level === 'err' && /while reading response header from upstream/.test(l.message))).toBe(true);
  }, 60_000);

  it('the free try does not add to the retries: a fresh connection failing too ends the request (retries 0)', async () => {
    up = await upstream((req, res, { conn, nth }) => (conn === 0 && nth === 1 ? res.end('ok') : req.socket.destroy()));
    const g = await kong(up, { retries: 0 });
    expect(statusOf(await rawText(g.port, ['GET /one HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(statusOf(await rawText(g.port, ['GET /two HTTP/1.1', 'Host: kong']))).toBe(502);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 0, 1]);
    expect((await lastSerialized(g)).upstream_status).toBe('502, 502');
  }, 60_000);

  it('POST on a kept-alive connection the upstream drops: not tried again (request sent, not idempotent): 502', async () => {
    up = await upstream((req, res, { nth }) => (nth === 2 ? req.socket.destroy() : res.end('ok')));
    const g = await kong(up);
    expect(statusOf(await rawText(g.port, ['GET /one HTTP/1.1', 'Host: kong']))).toBe(200);
    const r = await rawText(g.port, ['POST /two HTTP/1.1', 'Host: kong', 'Content-Length: 2'], 'hi');
    expect(statusOf(r)).toBe(502);
    expect(up.hits.map((h) => [h.conn, h.method])).toEqual([[0, 'GET'], [0, 'POST']]);
    expect((await lastSerialized(g)).upstream_status).toBe('502');
  }, 60_000);

  it('a connection the upstream closed while idle is not reused and costs no try', async () => {
    up = await upstream();
    up.server.keepAliveTimeout = 50; // the upstream closes idle connections after 50 ms
    const g = await kong(up, { retries: 0 });
    expect(statusOf(await rawText(g.port, ['GET /one HTTP/1.1', 'Host: kong']))).toBe(200);
    await until(() => up!.closed.has(0));
    await sleep(50); // Kong's close handler has seen the FIN
    g.clearLogs();
    expect(statusOf(await rawText(g.port, ['GET /two HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 1]);
    expect((await lastSerialized(g)).upstream_status).toBe('200');
  }, 60_000);

  it('upstream_keepalive_max_requests: a connection serves that many requests, then Kong closes it', async () => {
    up = await upstream();
    const g = await kong(up, { upstreamKeepalive: { maxRequests: 2 } });
    for (let i = 0; i < 5; i++) expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 0, 1, 1, 2]);
    await until(() => up!.closed.size === 2);
    expect([...up.closed].sort()).toEqual([0, 1]);
  }, 60_000);

  it('upstream_keepalive_idle_timeout: an idle connection is closed by Kong when it expires', async () => {
    up = await upstream();
    const g = await kong(up, { upstreamKeepalive: { idleTimeoutMs: 100 } });
    expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    await sleep(30);
    expect(up.closed.size).toBe(0);
    await until(() => up!.closed.has(0));
    expect(up.closed.has(0)).toBe(true);
    expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 1]);
  }, 60_000);

  it('upstream_keepalive_pool_size: a full pool closes its least recently used connection to keep the one just freed', async () => {
    const held: Array<{ conn: number; res: http.ServerResponse }> = [];
    // the first three answers are held, later ones answered at once
    up = await upstream((_req, res, { conn }) => (held.length < 3 ? void held.push({ conn, res }) : res.end('ok')));
    const g = await kong(up, { upstreamKeepalive: { poolSize: 2 } });
    const answers = [0, 1, 2].map(() => rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']));
    await until(() => held.length === 3);
    expect(held.map((h) => h.conn).sort()).toEqual([0, 1, 2]);
    // answered one by one: first freed = least recently used
    for (const h of [...held].sort((a, b) => a.conn - b.conn)) {
      h.res.end('ok');
      await sleep(50);
    }
    expect((await Promise.all(answers)).map(statusOf)).toEqual([200, 200, 200]);
    await until(() => up!.closed.size > 0);
    await sleep(50);
    expect([...up.closed]).toEqual([0]);
    // the next request takes the most recently cached one
    expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.at(-1)!.conn).toBe(2);
  }, 60_000);

  it('upstream_keepalive_pool_size 0: no keep-alive, a connection per request', async () => {
    up = await upstream();
    const g = await kong(up, { upstreamKeepalive: { poolSize: 0 } });
    for (let i = 0; i < 2; i++) expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 1]);
  }, 60_000);

  it('a response with Connection: close is not kept', async () => {
    up = await upstream((_req, res) => {
      res.setHeader('Connection', 'close');
      res.end('ok');
    });
    const g = await kong(up, { retries: 0 });
    for (let i = 0; i < 2; i++) expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 1]);
    expect((await lastSerialized(g)).upstream_status).toBe('200');
  }, 60_000);

  it('each nginx worker has its own pool', async () => {
    up = await upstream();
    // client connections are dealt to workers round robin: 0, 1, 0
    const g = await kong(up, { workers: 2 });
    for (let i = 0; i < 3; i++) expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    expect(up.hits.map((h) => h.conn)).toEqual([0, 1, 0]);
  }, 60_000);

  it('close() ends the kept-alive connections', async () => {
    up = await upstream();
    const g = await kong(up);
    expect(statusOf(await rawText(g.port, ['GET / HTTP/1.1', 'Host: kong']))).toBe(200);
    await g.close();
    gw = undefined;
    await until(() => up!.closed.has(0));
    expect(up.closed.has(0)).toBe(true);
  }, 60_000);
});
