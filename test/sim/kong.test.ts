// Proves the Kong harness against the real kong-js-pluginserver: protocol,
// Kong's config shape, PDK effects on real loopback traffic, log phase,
// virtual time and upstream failures.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { rawRequest } from '../support/raw-http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, PluginServer, KONG_PDK_PLUGIN_SERVER_BIN, type KongGateway, type KongPluginSpec } from '../../sim/kong/index';
import { closedPort } from '../support/closed-port';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const echo = (config: Record<string, unknown> = {}): KongPluginSpec => ({ name: 'echo', dir: path.join(FIXTURES, 'echo'), config });
const router = (): KongPluginSpec => ({ name: 'router', dir: path.join(FIXTURES, 'router'), config: {} });

interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

interface Upstream {
  port: number;
  hits: Hit[];
  close(): Promise<void>;
}

async function upstream(
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>,
): Promise<Upstream> {
  const hits: Hit[] = [];
  const server = http.createServer(async (req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    if (handler) return handler(req, res);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ upstream: name, url: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on. */


function routerLogs(gw: KongGateway): any[] {
  return gw
    .logs()
    .filter((l) => l.source === 'plugin' && l.plugin === 'router' && l.level === 'notice')
    .map((l) => JSON.parse(l.message));
}

describe('Kong harness: echo plugin on the real plugin server', () => {
  let gw: KongGateway;
  let a: Upstream;

  beforeAll(async () => {
    a = await upstream('a');
    gw = await startKong({
      plugins: [echo({ message: 'hi', rules: [{ name: 'r1' }] })],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
    });
  });
  afterAll(async () => {
    await gw?.close();
    await a?.close();
  });

  it('proxies the request with the header set through the PDK: 3 round trips in access', async () => {
    gw.resetStats();
    const res = await fetch(gw.url + '/path?q=1', { headers: { 'x-client': 'c1' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ upstream: 'a', url: '/path?q=1' });
    const hit = a.hits.at(-1)!;
    expect(hit.headers['x-echo']).toBe('hi');
    expect(hit.headers['x-client']).toBe('c1');
    expect(hit.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(hit.headers['via']).toBe('1.1 kong/3.9.3');
    expect(hit.headers['x-kong-request-id']).toBe(res.headers.get('x-kong-request-id'));
    expect(res.headers.get('via')).toBe('1.1 kong/3.9.3');
    expect(res.headers.get('x-kong-upstream-latency')).toMatch(/^\d+$/);
    await gw.logDone();
    // HandleEvent (-> get_headers), StepMultiMap (-> set_header), Step (-> ret)
    expect(gw.rpcStats().access).toEqual([3]);
    expect(gw.rpcStats().log).toEqual([0]);
  });

  it('kong.response.exit answers the client; the upstream never sees the request; 2 round trips', async () => {
    gw.resetStats();
    const before = a.hits.length;
    const res = await fetch(gw.url + '/', { headers: { 'x-echo-exit': '418' } });
    expect(res.status).toBe(418);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-echo-exited')).toBe('yes');
    expect(res.headers.get('x-kong-response-latency')).toMatch(/^\d+$/);
    expect(res.headers.get('server')).toBe('kong/3.9.3');
    const body = await res.json();
    // get_headers arrives as StepMultiMap: every value is an array
    expect(body.headers['x-echo-exit']).toEqual(['418']);
    expect(a.hits.length).toBe(before);
    expect(gw.rpcStats().access).toEqual([2]); // pdk.js sends exit and Kong never answers it
  });

  it('hands StartInstance the config Kong stored: defaults filled, unset fields absent, Kong keys added', async () => {
    const res = await fetch(gw.url + '/', { headers: { 'x-echo-exit': '200' } });
    const seen = JSON.parse((await res.json()).configJson);
    expect(seen).toEqual(gw.kongConfig('echo'));
    expect(seen).toMatchObject({
      message: 'hi',
      tags: [],
      mode: 'plain',
      limits: { max: 10 }, // required record: built from its defaults
      rules: [{ name: 'r1', weight: 1 }], // defaults inside array elements
      __seq__: expect.any(Number),
      __plugin_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      __ws_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      route_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(seen.__key__).toBe(`plugins:echo:${seen.route_id}::::${seen.__ws_id}`);
    // Kong reads configs back with nulls = nil: unset fields are absent, not null
    expect(seen).not.toHaveProperty('status');
    expect(seen).not.toHaveProperty('extra'); // non-required record without default
    expect(seen.limits).not.toHaveProperty('note');
    expect(seen.rules[0]).not.toHaveProperty('header');
  });

  it('an instance-named plugin gets plugin_instance_name in its config (plugins_iterator.lua get_plugin_config)', async () => {
    // The Kong Ingress Controller names KongPlugin instances; Kong copies the entity's
    // instance_name into the config it hands the plugin server. Without a name the key is absent.
    const named = await startKong({
      plugins: [{ ...echo({ message: 'named' }), instanceName: 'tandem-echo-5d2f9a1c' }],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
    });
    try {
      const res = await fetch(named.url + '/', { headers: { 'x-echo-exit': '200' } });
      const seen = JSON.parse((await res.json()).configJson);
      expect(seen).toEqual(named.kongConfig('echo'));
      expect(seen.plugin_instance_name).toBe('tandem-echo-5d2f9a1c');
      // exactly Kong's keys beside the user's fields (no consumer: consumer_id absent)
      const kongKeys = Object.keys(seen).filter((k) => !['message', 'tags', 'mode', 'limits'].includes(k)).sort();
      expect(kongKeys).toEqual(['__key__', '__plugin_id', '__seq__', '__ws_id', 'plugin_instance_name', 'route_id']);
    } finally {
      await named.close();
    }
    const res = await fetch(gw.url + '/', { headers: { 'x-echo-exit': '200' } });
    expect(JSON.parse((await res.json()).configJson)).not.toHaveProperty('plugin_instance_name');
  });

  it('restarts the instance after "no plugin instance" and retries the event', async () => {
    const iid = gw.instanceId('echo');
    expect(iid).toBeTypeOf('number');
    await gw.pluginServer('echo').closeInstance(iid!);
    gw.resetStats();
    const res = await fetch(gw.url + '/', { headers: { 'x-echo-in': 'again' } });
    expect(res.status).toBe(200);
    expect(a.hits.at(-1)!.headers['x-echo']).toBe('again');
    expect(gw.instanceId('echo')).not.toBe(iid);
    const stats = gw.rpcStats();
    expect(stats.access).toEqual([4]); // the failed HandleEvent + the 3 of the retried event
    expect(stats.instanceStarts).toBe(1);
    expect(gw.logs().some((l) => l.level === 'warn' && l.message.includes(`no plugin instance #${iid}`))).toBe(true);
  });

  it('rejects configs Kong would reject, before the plugin sees them', async () => {
    await expect(gw.configure('echo', { bogus: 1 })).rejects.toThrow('schema violation (config.bogus: unknown field)');
    await expect(gw.configure('echo', { status: 'x' })).rejects.toThrow('schema violation (config.status: expected an integer)');
    await expect(gw.configure('echo', { status: 700 })).rejects.toThrow('value should be between 100 and 599');
    await expect(gw.configure('echo', { mode: 'odd' })).rejects.toThrow('expected one of: plain, fancy');
    await expect(gw.configure('echo', { message: '' })).rejects.toThrow('length must be at least 1');
    await expect(gw.configure('echo', { rules: [{ weight: 2 }] })).rejects.toThrow(/config\.rules: [\s\S]*required field missing/);
    await expect(gw.configure('echo', { limits: { max: 1.5 } })).rejects.toThrow(/config\.limits: [\s\S]*expected an integer/);
    await expect(
      startKong({ plugins: [echo({ tags: 'x' })], upstreams: { a: { host: '127.0.0.1', port: a.port } }, defaultUpstream: 'a' }),
    ).rejects.toThrow('schema violation (config.tags: expected an array)');
  });

  it('a new config gets a new __seq__: new StartInstance, old instance closed', async () => {
    // an instance running first (the reset_instances event of the test above emptied the table)
    expect((await fetch(gw.url + '/')).status).toBe(200);
    expect(gw.instanceId('echo')).not.toBeUndefined();
    const seq = gw.kongConfig('echo').__seq__ as number;
    await gw.configure('echo', { message: 'second' });
    gw.resetStats();
    const res = await fetch(gw.url + '/');
    expect(res.status).toBe(200);
    expect(a.hits.at(-1)!.headers['x-echo']).toBe('second');
    expect(gw.kongConfig('echo').__seq__).toBeGreaterThan(seq);
    expect(gw.rpcStats()).toMatchObject({ instanceStarts: 1, instanceCloses: 1, access: [3] });
  });

  it('serves concurrent requests over pooled connections, one outstanding call each', async () => {
    gw.resetStats();
    const rpc = gw.pluginServer('echo').rpc;
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await fetch(gw.url + `/c/${i}`, { headers: { 'x-echo-in': `v${i}` } });
        return { status: res.status, body: await res.json() };
      }),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    for (let i = 0; i < 40; i++) {
      const hit = a.hits.find((h) => h.url === `/c/${i}`)!;
      expect(hit.headers['x-echo']).toBe(`v${i}`);
    }
    expect(gw.rpcStats().access).toEqual(Array(40).fill(3));
    expect(rpc.maxOpen).toBeGreaterThan(1);
  });
});

describe('Kong harness: routing, Lua errors and the log phase', () => {
  let gw: KongGateway;
  let a: Upstream;
  let b: Upstream;

  beforeAll(async () => {
    a = await upstream('a');
    b = await upstream('b');
    gw = await startKong({
      plugins: [router(), echo()],
      upstreams: { a: { host: '127.0.0.1', port: a.port }, b: { host: '127.0.0.1', port: b.port } },
      defaultUpstream: 'a',
    });
  });
  afterAll(async () => {
    await gw?.close();
    await a?.close();
    await b?.close();
  });

  it('runs access by descending priority and routes with set_upstream', async () => {
    gw.clearLogs();
    const res = await fetch(gw.url + '/to-b', { headers: { 'x-route-to': 'b' } });
    expect(await res.json()).toEqual({ upstream: 'b', url: '/to-b' });
    expect(b.hits.at(-1)!.headers['x-echo']).toBe('echo'); // echo (1000) ran, router (900) after it
    await gw.logDone();
    const [log] = routerLogs(gw);
    expect(log.routed).toEqual({ to: 'b', ok: true, empty: [] }); // `gone: null` did not survive Lua
  });

  it('an unknown upstream name gives the plugin nil (the error string is dropped) and the Service upstream is used', async () => {
    gw.clearLogs();
    const res = await fetch(gw.url + '/nope', { headers: { 'x-route-to': 'nope' } });
    expect(await res.json()).toEqual({ upstream: 'a', url: '/nope' });
    await gw.logDone();
    expect(routerLogs(gw)[0].routed).toMatchObject({ to: 'nope', ok: 'nil' });
  });

  it('the log phase sees status, kong.log.serialize() (a JSON string) and kong.ctx.shared', async () => {
    gw.clearLogs();
    gw.resetStats();
    await fetch(gw.url + '/log?x=1&flag', { headers: { 'x-route-to': 'b', authorization: 'secret' } });
    await gw.logDone();
    const [log] = routerLogs(gw);
    expect(log.status).toBe(200);
    expect(log.serializedType).toBe('string');
    const s = log.serialized;
    expect(s.response.status).toBe(200);
    expect(s.upstream_status).toBe('200');
    expect(s.upstream_uri).toBe('/log?x=1&flag');
    expect(s.request).toMatchObject({ method: 'GET', uri: '/log?x=1&flag', querystring: { x: '1', flag: true } });
    expect(s.request.headers['x-route-to']).toBe('b'); // plain table here, not the StepMultiMap shape
    expect(s.request.headers.authorization).toBe('REDACTED');
    expect(s.tries).toHaveLength(1);
    expect(s.tries[0]).toMatchObject({ ip: '127.0.0.1', port: b.port });
    expect(Object.keys(s.latencies).sort()).toEqual(['kong', 'proxy', 'receive', 'request']);
    expect(s.source).toBe('upstream');
    expect(s.route.id).toBe(gw.kongConfig('router').route_id);
    // HandleEvent + get_status + serialize + ctx.shared.get + get_header + notice
    expect(gw.rpcStats().log).toEqual([6]);
  });

  it('a PDK call that raises a Lua error in access ends the request with 500', async () => {
    gw.clearLogs();
    const before = a.hits.length + b.hits.length;
    const res = await fetch(gw.url + '/', { headers: { 'x-bad-call': '1' } });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'An unexpected error occurred', request_id: res.headers.get('x-kong-request-id') });
    expect(a.hits.length + b.hits.length).toBe(before);
    expect(gw.logs().some((l) => l.level === 'err' && l.message.includes('function cannot be called in access phase'))).toBe(true);
    await gw.logDone();
    const [log] = routerLogs(gw);
    expect(log.status).toBe(500);
    expect(log.serialized.source).toBe('kong');
    expect(log.serialized.tries).toEqual({}); // the empty Lua table: cjson writes {}
  });

  it('an unknown PDK method is logged by Kong and answered with nil', async () => {
    gw.clearLogs();
    await fetch(gw.url + '/', { headers: { 'x-unknown-call': '1' } });
    await gw.logDone();
    expect(a.hits.at(-1)!.headers['x-unknown-result']).toBe('undefined');
    expect(gw.logs().some((l) => l.level === 'err' && l.message === 'could not find pdk method: kong.request.get_id')).toBe(true);
  });

  it('request-bound PDK calls fail in the log timer', async () => {
    gw.clearLogs();
    await fetch(gw.url + '/', { headers: { 'x-log-bad': '1' } });
    await gw.logDone();
    expect(gw.logs().some((l) => l.level === 'err' && l.message.includes('no request found'))).toBe(true);
    expect(routerLogs(gw)).toEqual([]); // the handler was aborted before its notice
  });
});

describe('Kong harness: virtual clock', () => {
  let gw: KongGateway;
  let a: Upstream;
  const T0 = 1_000_000;

  beforeAll(async () => {
    a = await upstream('a', async (req, res) => {
      // The test scripts the upstream latency by moving the clock before answering.
      if (req.headers['x-delay']) await gw.setNow(T0 + Number(req.headers['x-delay']));
      res.end('ok');
    });
    gw = await startKong({
      plugins: [echo(), router()],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
      virtualClock: true,
    });
  });
  afterAll(async () => {
    await gw?.close();
    await a?.close();
  });

  it('Date.now() in the plugin server is the clock the test sets', async () => {
    await gw.setNow(T0);
    const res = await fetch(gw.url + '/', { headers: { 'x-echo-exit': '200' } });
    expect((await res.json()).now).toBe(T0);
    await gw.logDone();
  });

  it('latencies come from the virtual clock', async () => {
    await gw.setNow(T0);
    gw.clearLogs();
    const res = await fetch(gw.url + '/', { headers: { 'x-delay': '250' } });
    expect(res.headers.get('x-kong-upstream-latency')).toBe('250');
    expect(res.headers.get('x-kong-proxy-latency')).toBe('0');
    await gw.logDone();
    const [log] = routerLogs(gw);
    expect(log.serialized.latencies).toEqual({ kong: 0, proxy: 250, request: 250, receive: 0 });
    expect(log.serialized.started_at).toBe(T0);
    expect(log.now).toBe(T0 + 250);
  });
});

describe('Kong harness: upstream failures get exactly one response', () => {
  let gw: KongGateway;
  let ok: Upstream;
  let reset: Upstream;
  let silent: Upstream;

  beforeAll(async () => {
    ok = await upstream('ok');
    reset = await upstream('reset', (req) => {
      req.socket.destroy();
    });
    silent = await upstream('silent', () => {});
    gw = await startKong({
      plugins: [router()],
      upstreams: { a: { host: '127.0.0.1', port: ok.port } },
      defaultUpstream: 'a',
      upstreamTimeoutMs: 150,
    });
  });
  afterAll(async () => {
    await gw?.close();
    for (const u of [ok, reset, silent]) await u?.close();
  });

  async function lastSerialized() {
    await gw.logDone();
    return routerLogs(gw).at(-1).serialized;
  }

  it('connection refused: 502 after the Service retries (5), Kong error body by Accept', async () => {
    gw.setUpstream('a', { host: '127.0.0.1', port: await closedPort() });
    gw.clearLogs();
    const r = await rawRequest(gw.port, ['GET /refused HTTP/1.1', 'Host: kong', 'Accept: application/json']);
    expect(r.statusLines).toEqual(['HTTP/1.1 502 Bad Gateway']);
    expect(r.text).toContain('"message":"An invalid response was received from the upstream server"');
    const s = await lastSerialized();
    expect(s.tries).toHaveLength(6);
    // Kong.balancer records a try's failure when the next try starts: the last try has none.
    expect(s.tries.slice(0, 5).every((t: any) => t.state === 'failed' && t.code === 502)).toBe(true);
    expect(s.tries[5].state).toBeUndefined();
    expect(s.tries[5].code).toBeUndefined();
    expect(s.upstream_status).toBe('502, 502, 502, 502, 502, 502');
    expect(s.response.status).toBe(502);
  });

  it('without Accept, Kong falls back to text/plain', async () => {
    const r = await rawRequest(gw.port, ['GET / HTTP/1.1', 'Host: kong']);
    expect(r.statusLines).toEqual(['HTTP/1.1 502 Bad Gateway']);
    expect(r.text).toMatch(/content-type: text\/plain; charset=utf-8/i);
    expect(r.text).toMatch(/An invalid response was received from the upstream server\nrequest_id: [0-9a-f]{32}\n$/);
  });

  it('connection reset before the response: 502', async () => {
    gw.setUpstream('a', { host: '127.0.0.1', port: reset.port });
    const r = await rawRequest(gw.port, ['GET /reset HTTP/1.1', 'Host: kong']);
    expect(r.statusLines).toEqual(['HTTP/1.1 502 Bad Gateway']);
    expect(reset.hits.length).toBe(6); // GET is idempotent: nginx retries it
  });

  it('a reset first try, then an answer: upstream_status "502, 200", the failed try recorded, latencies.proxy the last try\'s', async () => {
    let n = 0;
    const flaky = await upstream('flaky', (req, res) => {
      if (n++ === 0) return void req.socket.destroy();
      res.end('second');
    });
    try {
      gw.setUpstream('a', { host: '127.0.0.1', port: flaky.port });
      gw.clearLogs();
      const r = await rawRequest(gw.port, ['GET /flaky HTTP/1.1', 'Host: kong']);
      expect(r.statusLines).toEqual(['HTTP/1.1 200 OK']);
      const s = await lastSerialized();
      expect(s.upstream_status).toBe('502, 200');
      expect(s.tries).toHaveLength(2);
      expect(s.tries[0]).toMatchObject({ state: 'failed', code: 502 });
      expect(s.tries[1].state).toBeUndefined();
      expect(s.tries[1].balancer_start).toBeGreaterThanOrEqual(s.tries[0].balancer_start);
      expect(s.source).toBe('upstream');
      expect(flaky.hits).toHaveLength(2);
    } finally {
      await flaky.close();
    }
  });

  it('read timeout: 504, retried for GET, not for POST', async () => {
    gw.setUpstream('a', { host: '127.0.0.1', port: silent.port });
    const t0 = Date.now();
    const r = await rawRequest(gw.port, ['GET /slow HTTP/1.1', 'Host: kong', 'Accept: application/json']);
    expect(r.statusLines).toEqual(['HTTP/1.1 504 Gateway Timeout']);
    expect(r.text).toContain('"message":"The upstream server is timing out"');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(6 * 150 - 20);
    expect((await lastSerialized()).tries).toHaveLength(6);

    const before = silent.hits.length;
    const p = await rawRequest(gw.port, ['POST /slow HTTP/1.1', 'Host: kong', 'Content-Length: 2'], 'hi');
    expect(p.statusLines).toHaveLength(1);
    expect(p.statusLines[0]).toMatch(/^HTTP\/1\.1 504/);
    expect(silent.hits.length - before).toBe(1);
  });

  it('the client gets the upstream again once the upstream is back', async () => {
    gw.setUpstream('a', { host: '127.0.0.1', port: ok.port });
    const res = await fetch(gw.url + '/back');
    expect(res.status).toBe(200);
  });
});

describe('Kong harness: rewrite runs for global plugins only', () => {
  it('a route-scoped plugin never gets rewrite; a global one does, and its exit is sent at once', async () => {
    const a = await upstream('a');
    const routeScoped = await startKong({ plugins: [router()], upstreams: { a: { host: '127.0.0.1', port: a.port } }, defaultUpstream: 'a' });
    const global = await startKong({
      plugins: [{ ...router(), scope: 'global' }],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
    });
    try {
      const r1 = await fetch(routeScoped.url + '/', { headers: { 'x-rewrite-exit': '1' } });
      expect(r1.status).toBe(200);
      expect(routeScoped.rpcStats().rewrite).toEqual([0]);
      expect(routeScoped.kongConfig('router')).toHaveProperty('route_id');

      const r2 = await fetch(global.url + '/', { headers: { 'x-rewrite-exit': '1' } });
      expect(r2.status).toBe(409);
      expect(await r2.text()).toBe('from rewrite');
      await global.logDone();
      expect(global.rpcStats()).toMatchObject({ rewrite: [2], access: [0] });
      expect(global.kongConfig('router')).not.toHaveProperty('route_id');
      expect(global.kongConfig('router').__key__).toMatch(/^plugins:router:::::[0-9a-f-]{36}$/);
    } finally {
      await routeScoped.close();
      await global.close();
      await a.close();
    }
  });
});

describe('Kong harness: response phase and plugin-server failures', () => {
  it('a plugin with a response phase gets the buffered upstream response', async () => {
    const a = await upstream('a', (_req, res) => {
      res.statusCode = 201;
      res.end('created');
    });
    const gw = await startKong({
      plugins: [{ name: 'buffered', dir: path.join(FIXTURES, 'buffered'), config: {} }],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
    });
    try {
      const res = await fetch(gw.url + '/');
      expect(res.status).toBe(201);
      expect(res.headers.get('x-seen-status')).toBe('201');
      expect(await res.text()).toBe('created');
      expect(gw.rpcStats().response).toEqual([3]);
    } finally {
      await gw.close();
      await a.close();
    }
  });

  it('a dead plugin server is skipped (request proxied, error logged) and respawned like Kong does', async () => {
    const a = await upstream('a');
    const gw = await startKong({ plugins: [echo()], upstreams: { a: { host: '127.0.0.1', port: a.port } }, defaultUpstream: 'a' });
    try {
      await fetch(gw.url + '/');
      const ps = gw.pluginServer('echo');
      const firstPid = ps.pid;
      ps.kill();
      // until the process is gone (a busy machine may take longer than a fixed pause; a
      // request sent while it is still dying gets ECONNRESET on the pooled connection)
      for (let i = 0; i < 200 && ps.pid === firstPid; i++) await new Promise((r) => setTimeout(r, 25));
      const res = await fetch(gw.url + '/while-down');
      expect(res.status).toBe(200);
      expect(a.hits.at(-1)!.headers['x-echo']).toBeUndefined();
      expect(gw.logs().some((l) => l.level === 'err' && /connection refused|no such file/.test(l.message))).toBe(true);
      // process.lua respawns at most once a second
      let echoed: unknown;
      // bounded generously: the respawned server loads ts-node first, slow on a busy 2-core machine
      for (let i = 0; i < 300 && !echoed; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await fetch(gw.url + '/after');
        echoed = a.hits.at(-1)!.headers['x-echo'];
      }
      expect(echoed).toBe('echo');
      expect(ps.pid).not.toBe(firstPid);
    } finally {
      await gw.close();
      await a.close();
    }
  });

  it('PluginServer works without HTTP (for benchmarks)', async () => {
    const ps = await PluginServer.start(path.join(FIXTURES, 'echo'));
    try {
      const iid = await ps.startInstance('echo', { message: 'm' });
      const calls: string[] = [];
      const r = await ps.handleEvent(iid, 'access', (method) => {
        calls.push(method);
        return method === 'kong.request.get_headers' ? {} : undefined;
      });
      expect(r).toEqual({ rpcs: 3 });
      expect(calls).toEqual(['kong.request.get_headers', 'kong.service.request.set_header']);
      const e = await ps.handleEvent(iid, 'access', () => ({ 'x-echo-exit': ['403'] }));
      expect(e.rpcs).toBe(2);
      expect(e.exit).toMatchObject({ status: 403, headers: { 'x-echo-exited': 'yes' } });
    } finally {
      await ps.close();
    }
  });
});

describe('startKong on a port in use', () => {
  it('rejects with the listen error and stops the plugin servers it started', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    const up = await upstream('a');
    // note each plugin server startKong starts, to see it gone afterwards
    const started: PluginServer[] = [];
    const start = PluginServer.start;
    PluginServer.start = async (...args: Parameters<typeof PluginServer.start>) => {
      const s = await start.apply(PluginServer, args);
      started.push(s);
      return s;
    };
    try {
      await expect(startKong({ plugins: [echo()], upstreams: { a: { host: '127.0.0.1', port: up.port } }, defaultUpstream: 'a', port }))
        .rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      PluginServer.start = start;
      await up.close();
      await new Promise<void>((r) => busy.close(() => r()));
    }
    expect(started.length).toBe(1);
    const pids = started.flatMap((s) => s.pids);
    expect(pids.length).toBeGreaterThan(0);
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pids.filter(alive)).toEqual([]);
  }, 60_000);
});

// Kong runs each external plugin's log handler in its own native timer
// (plugin_servers/plugin.lua build_phases: native_timer_at(0, ...), return value
// ignored), capped per worker by lua_max_pending_timers (16384) and
// lua_max_running_timers (4096) from Kong's nginx template (templates/nginx_kong.lua).
// lua-nginx-module (ngx_http_lua_timer.c): ngx.timer.at returns nil, "too many pending
// timers" when the pending count is at the cap (Kong drops the outcome without a
// word); a timer that expires while the running count is at the cap is not run and
// logged at alert ("... lua_max_running_timers are not enough").
describe('Kong harness: log timers are capped like nginx caps Lua timers', () => {
  const logger = (): KongPluginSpec => ({ name: 'logger', dir: path.join(FIXTURES, 'logger'), config: {} });
  let a: Upstream;
  beforeAll(async () => {
    a = await upstream('a');
  });
  afterAll(async () => {
    await a?.close();
  });

  it('a log timer that expires with lua_max_running_timers running is not run, and Kong logs an alert', async () => {
    const gw = await startKong({
      plugins: [{ ...router(), config: { note: 'slow-log' } }],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
      maxRunningTimers: 2,
    });
    try {
      for (let i = 0; i < 5; i++) expect((await fetch(gw.url + `/r${i}`)).status).toBe(200);
      await gw.logDone();
      expect(gw.logTimers()).toEqual({ droppedPending: 0, droppedRunning: 3 });
      const alerts = gw.logs().filter((l) => l.level === 'alert');
      expect(alerts.map((l) => l.message)).toEqual(
        Array(3).fill('lua failed to run timer with function defined at @kong/runloop/plugin_servers/plugin.lua:152: 2 lua_max_running_timers are not enough'),
      );
      expect(routerLogs(gw)).toHaveLength(2); // only two log handlers ran
      expect(gw.rpcStats().log).toEqual([6, 6, 0, 0, 0]);
    } finally {
      await gw.close();
    }
  });

  it('a log timer over lua_max_pending_timers is never created, and nothing says so', async () => {
    const gw = await startKong({
      plugins: [router(), logger()],
      upstreams: { a: { host: '127.0.0.1', port: a.port } },
      defaultUpstream: 'a',
      maxPendingTimers: 1,
    });
    try {
      expect((await fetch(gw.url + '/')).status).toBe(200);
      await gw.logDone();
      // router (priority 900) took the one pending slot; logger's timer was refused
      expect(gw.logTimers()).toEqual({ droppedPending: 1, droppedRunning: 0 });
      expect(routerLogs(gw)).toHaveLength(1);
      expect(gw.logs('debug').filter((l) => l.plugin === 'logger')).toEqual([]);
      expect(gw.logs().filter((l) => l.source === 'kong' && l.level !== 'notice')).toEqual([]);
    } finally {
      await gw.close();
    }
  });

  it('defaults are Kong nginx template values: 16384 pending, 4096 running, per worker', async () => {
    const gw = await startKong({ plugins: [router()], upstreams: { a: { host: '127.0.0.1', port: a.port } }, defaultUpstream: 'a' });
    try {
      expect(gw.timerLimits()).toEqual({ maxPendingTimers: 16384, maxRunningTimers: 4096 });
    } finally {
      await gw.close();
    }
  });
});

// Kong with several nginx workers shares one plugin server; each worker keeps its own
// instance table (plugin_servers/plugin.lua running_instances, module scope per worker)
// and learns of a respawn only from its own "no plugin instance" error or from the
// reset_instances worker event another worker posts (reset_instance), which arrives
// asynchronously. kong-js-pluginserver numbers instances from 0 in every process
// (server.js StartInstance: this.instanceID++), so right after a respawn an id a
// worker still holds can name an instance another worker just started for another
// route. The first test pins that fact of kong-pdk's own server; the second shows
// tandem's start command (plugins/server/tandem-pluginserver.ts, what
// deploy/kong/pluginserver.env runs) turning the stale id into "no plugin instance",
// after which Kong starts the right instance again.
describe('plugin-server instance ids after a respawn', () => {
  const conf = (message: string) => ({ message, tags: [], mode: 'plain', limits: { max: 10 } });
  const respawn = async (ps: PluginServer) => {
    const pid = ps.pid;
    ps.kill();
    for (let i = 0; i < 100 && (ps.pid === pid || ps.pid === undefined); i++) await new Promise((r) => setTimeout(r, 50));
    await ps.whenReady();
  };

  it('kong-js-pluginserver: a stale id held by another worker names the instance just started for another route', async () => {
    const ps = await PluginServer.start(path.join(FIXTURES, 'echo'), { bin: KONG_PDK_PLUGIN_SERVER_BIN });
    const exitConfig = async (iid: number) => {
      const r = await ps.handleEvent(iid, 'access', (m) => (m === 'kong.request.get_headers' ? { 'x-echo-exit': ['200'] } : null));
      return JSON.parse((r.exit?.body as { configJson: string }).configJson).message;
    };
    try {
      const workerB_route2 = await ps.startInstance('echo', conf('route-2'));
      const workerA_route1 = await ps.startInstance('echo', conf('route-1'));
      expect([workerB_route2, workerA_route1]).toEqual([0, 1]);
      await respawn(ps);
      // worker A: its id is gone -> "no plugin instance" -> reset, StartInstance again
      await expect(ps.handleEvent(workerA_route1, 'access', () => null)).rejects.toThrow(`no plugin instance #${workerA_route1}`);
      expect(await ps.startInstance('echo', conf('route-1'))).toBe(0);
      // worker B, before the reset_instances event reaches it: its route-2 id runs route 1's config
      expect(await exitConfig(workerB_route2)).toBe('route-1');
    } finally {
      await ps.close();
    }
  });

  it("tandem's start command: ids never repeat across processes, so the stale id gets 'no plugin instance'", async () => {
    const ps = await PluginServer.start(path.join(FIXTURES, 'echo'));
    try {
      const workerB_route2 = await ps.startInstance('echo', conf('route-2'));
      const workerA_route1 = await ps.startInstance('echo', conf('route-1'));
      expect(workerA_route1).toBe(workerB_route2 + 1);
      await respawn(ps);
      await expect(ps.handleEvent(workerA_route1, 'access', () => null)).rejects.toThrow(`no plugin instance #${workerA_route1}`);
      const again = await ps.startInstance('echo', conf('route-1'));
      expect(again).toBeGreaterThan(workerA_route1);
      // worker B's stale id names nothing: Kong resets it and starts route 2's instance
      await expect(ps.handleEvent(workerB_route2, 'access', () => null)).rejects.toThrow(`no plugin instance #${workerB_route2}`);
      // and the query command still reports the plugin as kong-js-pluginserver does
      expect((await PluginServer.query(path.join(FIXTURES, 'echo'))).map((i) => i.Name))
        .toEqual((await PluginServer.query(path.join(FIXTURES, 'echo'), KONG_PDK_PLUGIN_SERVER_BIN)).map((i) => i.Name));
    } finally {
      await ps.close();
    }
  });
});
