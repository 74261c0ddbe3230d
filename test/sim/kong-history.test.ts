// keepHistory: false (the playground's gateway runs for hours): the harness keeps no
// per-request record (rpcStats) and no log entry (logs), while onErrorLog still sees
// every entry. Kept, both grew by every request served. Default: kept, as before.
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startKong, type KongGateway, type LogEntry } from '../../sim/kong/index';

const FIXTURES = path.resolve(__dirname, '../fixtures/kong');
const logger = { name: 'logger', dir: path.join(FIXTURES, 'logger'), config: {} };

let gw: KongGateway | undefined;
let up: http.Server | undefined;
afterEach(async () => {
  await gw?.close();
  up?.closeAllConnections();
  up?.close();
  gw = undefined;
  up = undefined;
});

async function run(keepHistory: boolean | undefined): Promise<{ gw: KongGateway; seen: LogEntry[] }> {
  up = http.createServer((req, res) => { req.resume(); res.end('ok'); });
  await new Promise<void>((r) => up!.listen(0, '127.0.0.1', () => r()));
  const seen: LogEntry[] = [];
  gw = await startKong({
    plugins: [logger],
    upstreams: { a: { host: '127.0.0.1', port: (up.address() as AddressInfo).port } },
    defaultUpstream: 'a',
    onErrorLog: (e) => seen.push(e),
    ...(keepHistory === undefined ? {} : { keepHistory }),
  });
  for (let i = 0; i < 3; i++) expect((await fetch(`${gw.url}/`)).status).toBe(200);
  await gw.logDone();
  return { gw, seen };
}

describe('Kong harness keepHistory', () => {
  it('false: no request records and no kept log entries; onErrorLog still gets each', async () => {
    const { gw, seen } = await run(false);
    expect(seen.filter((e) => e.message === 'logger: 200')).toHaveLength(3);
    expect(gw.rpcStats().log).toEqual([]);
    expect(gw.logs('debug')).toEqual([]);
  }, 60_000);

  it('default: every request recorded and every entry kept', async () => {
    const { gw, seen } = await run(undefined);
    expect(seen.filter((e) => e.message === 'logger: 200')).toHaveLength(3);
    expect(gw.rpcStats().log).toEqual([3, 3, 3]); // HandleEvent, get_status, log.notice
    expect(gw.logs('debug').filter((e) => e.message === 'logger: 200')).toHaveLength(3);
  }, 60_000);
});
