// Kong with several nginx workers against one plugin server (issue 9, item 7).
//
// What is per worker in Kong 3.9 and what is shared:
//  - per worker: the instance table (plugin_servers/plugin.lua `running_instances`,
//    module scope), the RPC connections and msg ids (rpc/mp_rpc.lua Rpc:call over the
//    worker's cosocket pool), the Lua timer counts that cap log handlers
//    (lua-nginx-module ngx_http_lua_timer.c);
//  - shared: the plugin server, started and respawned by worker #0 only
//    (plugin_servers/process.lua pluginserver_timer, "only worker #0 can manage"), and
//    its instance ids;
//  - across workers: on "no plugin instance" a worker resets its own table at once and
//    posts "plugin_server" "reset_instances" (plugin.lua reset_instance), which the other
//    workers apply when the event reaches them (init.lua start registers
//    reset_instances_for_plugin): later, while they go on using the ids they hold.
// kong-js-pluginserver sends no serverPid notification (kong-pdk server.js), so
// plugin.lua rpc_notifications:serverPid never resets anything for a JS server.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, KONG_PDK_PLUGIN_SERVER_BIN, type KongGateway, type KongPluginSpec, type KongGatewayOptions } from '../../sim/kong/index';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const echo = (message: string): KongPluginSpec => ({ name: 'echo', dir: path.join(FIXTURES, 'echo'), config: { message } });

// An upstream that answers with the x-echo header the echo plugin set (its config's message).
let up: { port: number; close(): Promise<void> };
beforeAll(async () => {
  const server = http.createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ echo: req.headers['x-echo'] ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  up = {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
});
afterAll(async () => {
  await up?.close();
});

/** One request on a connection of its own (agent: false), so connections reach workers round robin. */
function get(gw: KongGateway, pathname: string): Promise<{ status: number; echo: string | null }> {
  return new Promise((resolve, reject) => {
    const r = http.get(gw.url + pathname, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, echo: res.statusCode === 200 ? JSON.parse(body).echo : null }));
    });
    r.on('error', reject);
  });
}

function twoRoutes(extra: Partial<KongGatewayOptions> = {}): KongGatewayOptions {
  return {
    plugins: [echo('route-1')],
    routes: [{ name: 'two', paths: ['/two'], plugins: { echo: { message: 'route-2' } } }],
    upstreams: { a: { host: '127.0.0.1', port: up.port } },
    defaultUpstream: 'a',
    ...extra,
  };
}

async function respawn(gw: KongGateway) {
  const ps = gw.pluginServer('echo');
  const pid = ps.pid;
  ps.kill();
  for (let i = 0; i < 200 && (ps.pid === pid || ps.pid === undefined); i++) await new Promise((r) => setTimeout(r, 25));
  await ps.whenReady();
}

describe('Kong harness with several nginx workers', () => {
  it('connections go to workers round robin; each worker starts its own instance over its own connections', async () => {
    const gw = await startKong({ ...twoRoutes(), workers: 2 });
    try {
      for (let i = 0; i < 4; i++) expect(await get(gw, '/')).toEqual({ status: 200, echo: 'route-1' });
      const stats = gw.rpcStats();
      expect(stats.workers).toEqual([0, 1, 0, 1]);
      // running_instances is per worker: one StartInstance each, two instances in the server
      expect(stats.instanceStarts).toBe(2);
      const ids = gw.instanceIds('echo');
      expect(ids).toHaveLength(2);
      expect(ids[0]).not.toBeUndefined();
      expect(ids[1]).not.toBeUndefined();
      expect(ids[0]).not.toBe(ids[1]);
      // every worker opened connections of its own to the one server
      const ps = gw.pluginServer('echo');
      expect(ps.pool(0).opened).toBeGreaterThan(0);
      expect(ps.pool(1).opened).toBeGreaterThan(0);
    } finally {
      await gw.close();
    }
  });

  it('two routes with different configs of one plugin: each runs under its own config (its own entity, route_id, __key__)', async () => {
    const gw = await startKong({ ...twoRoutes(), workers: 1 });
    try {
      expect(await get(gw, '/two/x')).toEqual({ status: 200, echo: 'route-2' });
      expect(await get(gw, '/other')).toEqual({ status: 200, echo: 'route-1' });
      expect(gw.rpcStats().instanceStarts).toBe(2);
      expect(gw.instanceIds('echo', 'two')[0]).not.toBe(gw.instanceIds('echo')[0]);
    } finally {
      await gw.close();
    }
  });

  it('lua_max_running_timers caps each worker alone (a timer count per worker)', async () => {
    const gw = await startKong({
      plugins: [{ name: 'router', dir: path.join(FIXTURES, 'router'), config: { note: 'slow-log' } }], // log handler holds its timer 5 s
      upstreams: { a: { host: '127.0.0.1', port: up.port } },
      defaultUpstream: 'a',
      workers: 2,
      maxRunningTimers: 1,
    });
    try {
      for (let i = 0; i < 4; i++) expect((await get(gw, `/r${i}`)).status).toBe(200);
      await gw.logDone();
      expect(gw.rpcStats().workers).toEqual([0, 1, 0, 1]);
      // one log timer running in each worker: each worker's second one is not run
      expect(gw.workerTimers()).toEqual([{ droppedPending: 0, droppedRunning: 1 }, { droppedPending: 0, droppedRunning: 1 }]);
      expect(gw.logTimers()).toEqual({ droppedPending: 0, droppedRunning: 2 });
      expect(gw.rpcStats().log.map((n) => n > 0)).toEqual([true, true, false, false]);
    } finally {
      await gw.close();
    }
  });

  it('a reset_instances event posted by one worker reaches every worker later: they start their instances again', async () => {
    const gw = await startKong({ ...twoRoutes(), workers: 2, workerEventDelayMs: 2000 });
    try {
      expect((await get(gw, '/')).echo).toBe('route-1'); // worker 0
      expect((await get(gw, '/')).echo).toBe('route-1'); // worker 1
      await respawn(gw);
      gw.resetStats();
      expect((await get(gw, '/')).echo).toBe('route-1'); // worker 0: stale id -> no plugin instance -> reset, post, restart
      expect(gw.logs('warn').some((l) => /no plugin instance/.test(l.message))).toBe(true);
      expect(gw.workerEvents().posted).toBe(1);
      // worker 1 has not heard yet: it still holds its old id
      expect(gw.instanceIds('echo')[1]).not.toBeUndefined();
      for (let i = 0; i < 200 && gw.workerEvents().delivered === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(gw.workerEvents().delivered).toBe(1);
      // delivered to both workers, the poster included: both tables are empty again
      expect(gw.instanceIds('echo')).toEqual([undefined, undefined]);
      expect((await get(gw, '/')).echo).toBe('route-1');
      expect((await get(gw, '/')).echo).toBe('route-1');
      expect(gw.rpcStats().instanceStarts).toBe(3);
    } finally {
      await gw.close();
    }
  });
});

describe('a respawned plugin server while other workers hold old instance ids', () => {
  // Worker 0 holds route 2's id, worker 1 route 1's. After the respawn, worker 0 starts
  // route 1's instance afresh (it held none for route 1: no error, no reset), then
  // worker 1's stale route-1 id fails and is reset (its event not delivered yet), then
  // worker 0 serves route 2 with the id it still holds.
  const sequence = async (gw: KongGateway) => {
    const seen: Array<{ route: string; worker: number; echo: string | null }> = [];
    const step = async (pathname: string) => {
      const r = await get(gw, pathname);
      const stats = gw.rpcStats();
      seen.push({ route: pathname, worker: stats.workers[stats.workers.length - 1], echo: r.echo });
    };
    await step('/two'); // worker 0: route 2
    await step('/'); // worker 1: route 1
    await respawn(gw);
    await step('/'); // worker 0: route 1, a new instance in the new process
    await step('/'); // worker 1: stale route-1 id
    await step('/two'); // worker 0: route 2 with the id from before the respawn
    return seen;
  };

  it("kong-js-pluginserver's ids restart at 0: the stale id runs route 1's config for a route-2 request", async () => {
    const gw = await startKong({ ...twoRoutes(), workers: 2, workerEventDelayMs: 60_000, pluginServerBin: KONG_PDK_PLUGIN_SERVER_BIN });
    try {
      const seen = await sequence(gw);
      expect(seen.map((s) => s.worker)).toEqual([0, 1, 0, 1, 0]);
      expect(seen.slice(0, 4).map((s) => s.echo)).toEqual(['route-2', 'route-1', 'route-1', 'route-1']);
      expect(seen[4]).toEqual({ route: '/two', worker: 0, echo: 'route-1' }); // another route's config
    } finally {
      await gw.close();
    }
  });

  it("tandem's start command: the stale id gets 'no plugin instance' and route 2 runs its own config", async () => {
    const gw = await startKong({ ...twoRoutes(), workers: 2, workerEventDelayMs: 60_000 });
    try {
      const seen = await sequence(gw);
      expect(seen.map((s) => s.worker)).toEqual([0, 1, 0, 1, 0]);
      expect(seen.map((s) => s.echo)).toEqual(['route-2', 'route-1', 'route-1', 'route-1', 'route-2']);
      expect(gw.logs('warn').filter((l) => /no plugin instance/.test(l.message))).toHaveLength(2);
    } finally {
      await gw.close();
    }
  });

  it('respawn mid-traffic on 3 workers, two routes: no response ever carries the other route\'s config', async () => {
    const gw = await startKong({ ...twoRoutes(), workers: 3 });
    try {
      const wrong: string[] = [];
      const counts = { own: 0, skipped: 0, other: 0 };
      let killed = false;
      let stop = false;
      let afterRespawn = 0;
      const ps = gw.pluginServer('echo');
      const firstPid = ps.pid;
      const loop = async (k: number) => {
        for (let i = 0; !stop && i < 2000; i++) {
          const two = (i + k) % 2 === 0;
          const r = await get(gw, two ? `/two/${k}/${i}` : `/one/${k}/${i}`);
          expect(r.status).toBe(200);
          const own = two ? 'route-2' : 'route-1';
          if (r.echo === own) counts.own++;
          else if (r.echo === null) counts.skipped++; // the server was down: Kong skipped the plugin (fail open)
          else (counts.other++, wrong.push(`${two ? '/two' : '/'} -> ${r.echo}`));
          if (ps.pid !== firstPid && ps.pid !== undefined && r.echo !== null) afterRespawn++;
          if (afterRespawn >= 60) stop = true;
        }
      };
      const killer = (async () => {
        while (gw.rpcStats().access.length < 40) await new Promise((r) => setTimeout(r, 5));
        ps.kill();
        killed = true;
      })();
      await Promise.all([loop(0), loop(1), loop(2), loop(3), loop(4), loop(5), killer]);
      expect(killed).toBe(true);
      expect(wrong).toEqual([]);
      expect(counts.other).toBe(0);
      expect(afterRespawn).toBeGreaterThanOrEqual(60);
      // every worker served traffic, and stale ids were met and reset
      expect(new Set(gw.rpcStats().workers)).toEqual(new Set([0, 1, 2]));
      expect(gw.logs('warn').filter((l) => /no plugin instance/.test(l.message)).length).toBeGreaterThan(0);
    } finally {
      await gw.close();
    }
  }, 30_000);
});
