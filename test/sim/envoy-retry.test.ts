// The router's retry loop in the Envoy harness, driven by the route's retry_policy (what
// `tandem render` writes from spec.retries, and what Istio writes from a VirtualService's
// retries or its default). Sources: Envoy source/common/router/router.cc
// (Filter::onUpstreamHeaders, Filter::onUpstreamReset, Filter::maybeRetryReset,
// Filter::onPerTryTimeoutCommon), source/common/router/retry_state_impl.cc
// (RetryStateImpl::shouldRetry, wouldRetryFromHeaders, wouldRetryFromReset),
// source/common/common/backoff_strategy.cc (JitteredExponentialBackOffStrategy).
// Each test failed on the harness before the loop (one try, whatever the route said).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway, type RouteSpec } from '../../sim/envoy/index.js';
import { closedPort } from '../support/closed-port';
import { compileFixtures, type CompiledFixtures } from '../support/envoy-fixtures';

let fixtures: CompiledFixtures | undefined;
let FEATURES = '';

beforeAll(async () => {
  fixtures = await compileFixtures('retry', ['features']);
  FEATURES = fixtures.wasm.features;
}, 120_000);
afterAll(async () => {
  await fixtures?.remove();
});

// An upstream answering its n-th request (from 0) as script(n) says: a status, a reset, or silence.
type Act = number | 'reset' | 'hang' | { grpc: number };
async function scripted(script: (n: number) => Act): Promise<{ port: number; hits: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    const a = script(n++);
    if (a === 'reset') return void req.socket.destroy();
    if (a === 'hang') return;
    if (typeof a === 'object') {
      res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': String(a.grpc), 'content-length': '0' }).end();
      return;
    }
    res.writeHead(a, { 'content-type': 'text/plain' }).end(`try ${n}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => n,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}


function get(gw: EnvoyGateway, p = '/', headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.port, path: p, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function gateway(port: number, route: Partial<RouteSpec>, opts: { upstreamTimeoutMs?: number; backoff?: (i: number) => number; sleep?: (ms: number) => Promise<void> } = {}): Promise<EnvoyGateway> {
  return startEnvoy({
    filters: [{ wasm: FEATURES, rootId: 'features', configuration: '{}' }],
    workers: 1,
    clusters: { up: { host: '127.0.0.1', port } },
    routes: [{ cluster: 'up', ...route }],
    upstreamTimeoutMs: opts.upstreamTimeoutMs ?? 5000,
    ...(opts.backoff ? { retryBackoff: opts.backoff } : {}),
    ...(opts.sleep ? { retrySleep: opts.sleep } : {}),
  });
}

const accessLines = (gw: EnvoyGateway) => gw.logs().filter((l) => l.message.startsWith('access code=')).map((l) => l.message);

describe('Envoy router retries (route retry_policy)', () => {
  it('5xx: a 503 then a 200 is one 200 to the client and to on_log; the upstream saw two tries', async () => {
    const up = await scripted((n) => (n === 0 ? 503 : 200));
    const gw = await gateway(up.port, { retryPolicy: { retryOn: '5xx', numRetries: 2 } });
    try {
      const r = await get(gw);
      expect(r.status).toBe(200);
      expect(r.body).toBe('try 2');
      expect(up.hits()).toBe(2);
      expect(accessLines(gw)).toHaveLength(1);
      expect(accessLines(gw)[0]).toMatch(/^access code=200 action=<1> flags=0 /);
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('retries are exhausted: the last 503 passes with URX (0x8000), after num_retries + 1 tries', async () => {
    const up = await scripted(() => 503);
    const gw = await gateway(up.port, { retryPolicy: { retryOn: '5xx', numRetries: 2 } });
    try {
      const r = await get(gw);
      expect(r.status).toBe(503);
      expect(r.body).toBe('try 3');
      expect(up.hits()).toBe(3);
      expect(accessLines(gw)).toHaveLength(1);
      expect(accessLines(gw)[0]).toMatch(new RegExp(`^access code=503 action=<1> flags=${0x8000} `));
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('without retry_policy, or when retry_on does not cover the answer, one try', async () => {
    const up = await scripted(() => 503);
    const plain = await gateway(up.port, {});
    const connectOnly = await gateway(up.port, { retryPolicy: { retryOn: 'connect-failure,refused-stream', numRetries: 2 } });
    try {
      expect((await get(plain)).status).toBe(503);
      expect((await get(connectOnly)).status).toBe(503);
      expect(up.hits()).toBe(2);
      expect(accessLines(connectOnly)).toHaveLength(1);
      expect(accessLines(connectOnly)[0]).toMatch(/^access code=503 action=<1> flags=0 /);
    } finally {
      await plain.close();
      await connectOnly.close();
      await up.close();
    }
  });

  it("connect-failure: refused tries are retried; when all fail, 503 UF + URX and Envoy's 'retried and the latest' body", async () => {
    const gw = await gateway(await closedPort(), { retryPolicy: { retryOn: 'connect-failure', numRetries: 2 } }, { backoff: () => 0 });
    try {
      const r = await get(gw);
      expect(r.status).toBe(503);
      expect(r.body).toBe(
        'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused',
      );
      expect(accessLines(gw)).toEqual([
        `access code=503 action=<1> flags=${0x8000 | 0x20} details=upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_Connection_refused}`,
      ]);
    } finally {
      await gw.close();
    }
  });

  it('connect-failure does not cover a reset after connecting; reset does', async () => {
    const up = await scripted((n) => (n % 2 === 0 ? 'reset' : 200));
    const connectOnly = await gateway(up.port, { retryPolicy: { retryOn: 'connect-failure', numRetries: 1 } });
    const reset = await gateway(up.port, { retryPolicy: { retryOn: 'reset', numRetries: 1 } });
    try {
      // even hits reset the connection, odd ones answer 200
      expect((await get(connectOnly)).status).toBe(503);   // hit 0 reset: not retried
      expect(up.hits()).toBe(1);
      expect((await get(reset)).status).toBe(200);         // hit 1: 200 at once
      expect(up.hits()).toBe(2);
      expect((await get(reset)).status).toBe(200);         // hit 2 reset, retried: hit 3 200
      expect(up.hits()).toBe(4);
    } finally {
      await connectOnly.close();
      await reset.close();
      await up.close();
    }
  });

  it('a per-try timeout is a local reset: retried under 5xx/reset/gateway-error, not under connect-failure; a try that hangs then one that answers', async () => {
    const up = await scripted((n) => (n === 0 ? 'hang' : 200));
    const gw = await gateway(up.port, { retryPolicy: { retryOn: 'gateway-error', numRetries: 1, perTryTimeoutMs: 150 } });
    try {
      const r = await get(gw);
      expect(r.status).toBe(200);
      expect(up.hits()).toBe(2);
    } finally {
      await gw.close();
      await up.close();
    }
    const hang = await scripted(() => 'hang');
    const connectOnly = await gateway(hang.port, { retryPolicy: { retryOn: 'connect-failure', numRetries: 1, perTryTimeoutMs: 150 } });
    try {
      const r = await get(connectOnly);
      expect(r.status).toBe(504);
      expect(r.body).toBe('upstream request timeout');
      expect(hang.hits()).toBe(1);
      expect(accessLines(connectOnly)[0]).toMatch(/^access code=504 action=<1> flags=4 /);
    } finally {
      await connectOnly.close();
      await hang.close();
    }
  });

  it('gRPC names: a trailers-only UNAVAILABLE is retried under unavailable; retriable-status-codes 503 (Istio\'s default policy)', async () => {
    const up = await scripted((n) => (n === 0 ? { grpc: 14 } : n === 1 ? 503 : 200));
    const istio = await gateway(up.port, {
      retryPolicy: { retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', numRetries: 2, retriableStatusCodes: [503] },
    });
    try {
      const r = await get(istio, '/', { 'content-type': 'application/grpc' });
      expect(r.status).toBe(200);
      expect(r.body).toBe('try 3');
      expect(up.hits()).toBe(3);
    } finally {
      await istio.close();
      await up.close();
    }
  });

  it('backoff: each retry waits a draw from [0, interval), the interval 25 ms doubling to at most 250 ms', async () => {
    const up = await scripted(() => 503);
    const intervals: number[] = [];
    const waits: number[] = [];
    const gw = await gateway(up.port, { retryPolicy: { retryOn: '5xx', numRetries: 5 } }, {
      backoff: (i) => { intervals.push(i); return i - 1; },
      sleep: async (ms) => { waits.push(ms); },
    });
    try {
      expect((await get(gw)).status).toBe(503);
      expect(up.hits()).toBe(6);
      expect(intervals).toEqual([25, 50, 100, 200, 250]);
      expect(waits).toEqual([24, 49, 99, 199, 249]);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
