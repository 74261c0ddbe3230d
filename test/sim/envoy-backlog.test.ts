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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { startEnvoy, type EnvoyGateway } from '../../sim/envoy/index.js';

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

// Block this thread (nothing accepted, nothing read) until `file` holds a result.
function blockUntil(file: string, timeoutMs: number): string {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      if (text.endsWith('\n')) return text.trim();
    }
    Atomics.wait(cell, 0, 0, 20);
  }
  throw new Error(`no result in ${file} after ${timeoutMs} ms`);
}

// Connections a burst of `burst` gets established within 800 ms (a SYN the kernel dropped is
// retried after 1 s at the earliest) while this thread, the harness's, accepts none.
function burstWhileBlocked(port: number, burst: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-envoy-backlog-'));
  const out = path.join(dir, 'connected');
  const child = spawn(process.execPath, ['-e', `
    const net = require('net'); const fs = require('fs');
    let connected = 0; const socks = [];
    for (let i = 0; i < ${burst}; i++) {
      const s = net.connect(${port}, '127.0.0.1', () => connected++);
      s.on('error', () => {}); socks.push(s);
    }
    setTimeout(() => { fs.writeFileSync(${JSON.stringify(out)}, connected + '\\n'); for (const s of socks) s.destroy(); process.exit(0); }, 800);
  `], { stdio: 'ignore' });
  try {
    return Number(blockUntil(out, 30_000));
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('listen backlog (ENVOY_TCP_BACKLOG_SIZE: net.core.somaxconn on Linux)', () => {
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const burst = 1500;

  it('a burst of 1,500 connections at the listener completes its handshakes while the gateway accepts none', () => {
    expect(burstWhileBlocked(gw.port, burst)).toBeGreaterThanOrEqual(Math.min(burst, somaxconn));
  }, 60_000);

  it('the same at the admin listener', () => {
    const adminPort = Number(new URL(gw.adminUrl).port);
    expect(burstWhileBlocked(adminPort, burst)).toBeGreaterThanOrEqual(Math.min(burst, somaxconn));
  }, 60_000);

  it('the listener still answers after the burst', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: gw.port, path: '/', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    expect(status).toBe(200);
  });
});
