// Bursts of new connections at the Envoy harness's listeners, as Envoy's own listeners take them.
// Envoy listens with the listener's tcp_backlog_size, or ENVOY_TCP_BACKLOG_SIZE when the
// config has none (source/common/listener_manager/listener_impl.cc: ListenerImpl's
// tcp_backlog_size_, ListenSocketFactoryImpl::doFinalPreWorkerInit's listen()), and
// the admin listener always with ENVOY_TCP_BACKLOG_SIZE (source/server/admin/admin.cc
// startHttpListener). On Linux that is -1 (envoy/common/platform.h): the kernel uses
// net.core.somaxconn. Neither `tandem render`'s envoy.yaml nor deploy/envoy/envoy.yaml
// sets tcp_backlog_size. With Node's default of 511 the harness had the kernel drop the
// SYNs of a burst beyond 512, and those clients waited for a SYN retry (1 s, then 3 s...),
// which Envoy's clients would not. Same method as test/sim/kong-backlog.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';
import { connectedWhileBlocked, somaxconn } from '../support/listen-backlog';

let gw: EnvoyGateway;
let up: http.Server;

beforeAll(async () => {
  up = http.createServer((req, res) => { req.resume(); res.end('ok'); });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  gw = await startEnvoy({
    filters: [],
    clusters: { up: { host: '127.0.0.1', port: (up.address() as AddressInfo).port } },
    routes: [{ cluster: 'up' }],
    admin: {},
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  up.closeAllConnections();
  await new Promise<void>((r) => up.close(() => r()));
});

describe('listen backlog (ENVOY_TCP_BACKLOG_SIZE: net.core.somaxconn on Linux)', () => {
  const burst = 1500;

  it('a burst of 1,500 connections at the listener completes its handshakes while the gateway accepts none', () => {
    expect(connectedWhileBlocked(gw.port, burst)).toBeGreaterThanOrEqual(Math.min(burst, somaxconn()));
  }, 60_000);

  it('the same at the admin listener', () => {
    const adminPort = Number(new URL(gw.adminUrl).port);
    expect(connectedWhileBlocked(adminPort, burst)).toBeGreaterThanOrEqual(Math.min(burst, somaxconn()));
  }, 60_000);

  it('the listener still answers after the burst', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: gw.port, path: '/', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    expect(status).toBe(200);
  });
});
