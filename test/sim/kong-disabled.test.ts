// A plugin entity with `enabled = false` (KongPlugin `disabled: true` through the Kong
// Ingress Controller) is not run by Kong at all: kong/runloop/plugins_iterator.lua
// collects a plugin for a request only when should_process_plugin holds, which needs
// `plugin.enabled`. So no phase handler, no plugin-server round trip, no instance.
// Re-enabling it (a config change) brings it back on the next iterator build.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, type KongGateway } from '../../sim/kong/index';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const CONFIG = { message: 'hi' };

describe('Kong harness: a disabled plugin entity', () => {
  let gw: KongGateway;
  let up: http.Server;
  const seen: Array<string | undefined> = [];

  beforeAll(async () => {
    up = http.createServer((req, res) => {
      seen.push(req.headers['x-echo'] as string | undefined);
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    gw = await startKong({
      plugins: [{ name: 'echo', dir: path.join(FIXTURES, 'echo'), config: CONFIG, enabled: false }],
      upstreams: { a: { host: '127.0.0.1', port: (up.address() as AddressInfo).port } },
      defaultUpstream: 'a',
    });
  });
  afterAll(async () => {
    await gw?.close();
    await new Promise<void>((r) => (up ? (up.closeAllConnections(), up.close(() => r())) : r()));
  });

  it('runs nothing for it: no round trip, no instance, the request untouched', async () => {
    gw.resetStats();
    const res = await fetch(gw.url + '/');
    expect(res.status).toBe(200);
    await res.text();
    await gw.logDone();
    expect(seen.at(-1)).toBeUndefined();
    expect(gw.rpcStats().access).toEqual([0]);
    expect(gw.instanceId('echo')).toBeUndefined();
  });

  it('enabled again by a config change, it runs (3 round trips); disabled, it stops', async () => {
    await gw.configure('echo', CONFIG, { enabled: true });
    gw.resetStats();
    let res = await fetch(gw.url + '/');
    await res.text();
    expect(seen.at(-1)).toBe('hi');
    expect(gw.rpcStats().access).toEqual([3]);
    expect(gw.instanceId('echo')).toBeDefined();

    await gw.configure('echo', CONFIG, { enabled: false });
    gw.resetStats();
    res = await fetch(gw.url + '/');
    await res.text();
    await gw.logDone();
    expect(seen.at(-1)).toBeUndefined();
    expect(gw.rpcStats().access).toEqual([0]);
  });

  it('still validates a disabled entity\'s config against the schema', async () => {
    await expect(gw.configure('echo', { mode: 'nope' }, { enabled: false })).rejects.toThrow();
  });
});
