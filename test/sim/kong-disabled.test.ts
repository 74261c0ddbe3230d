// A plugin entity with `enabled = false` (KongPlugin `disabled: true` through the Kong
// Ingress Controller) is not run by Kong at all: kong/runloop/plugins_iterator.lua
// collects a plugin for a request only when should_process_plugin holds, which needs
// `plugin.enabled`. So no phase handler, no plugin-server round trip, no instance.
// Re-enabling it (a config change) brings it back on the next iterator build.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { KongGateway } from '../../sim/kong/index';
import { startEchoKong, type EchoKong } from '../support/kong-echo';

const CONFIG = { message: 'hi' };

describe('Kong harness: a disabled plugin entity', () => {
  let echo: EchoKong | undefined;
  let gw: KongGateway;
  let seen: Array<string | undefined> = [];

  beforeAll(async () => {
    echo = await startEchoKong(CONFIG, false);
    ({ gw, seen } = echo);
  });
  afterAll(async () => {
    await echo?.close();
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
