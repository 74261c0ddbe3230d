// The Kong harness with the echo fixture plugin (test/fixtures/kong/echo: sets x-echo to
// its config's message through the PDK) in front of a loopback upstream that records the
// x-echo header of every request it gets (`seen`, in arrival order).
import path from 'node:path';
import { startKong, type KongGateway } from '../../sim/kong/index';
import { listenUpstream } from './upstream';

const ECHO_DIR = path.resolve(__dirname, '../fixtures/kong/echo');

export interface EchoKong {
  gw: KongGateway;
  seen: Array<string | undefined>;
  close(): Promise<void>;
}

// `enabled`: the plugin entity's (default true: Kong runs it).
export async function startEchoKong(config: Record<string, unknown>, enabled = true): Promise<EchoKong> {
  const seen: Array<string | undefined> = [];
  const up = await listenUpstream((req, res) => {
    seen.push(req.headers['x-echo'] as string | undefined);
    req.resume();
    res.end('ok');
  });
  let gw: KongGateway;
  try {
    gw = await startKong({
      plugins: [{ name: 'echo', dir: ECHO_DIR, config, ...(enabled ? {} : { enabled: false }) }],
      upstreams: { a: { host: '127.0.0.1', port: up.port } },
      defaultUpstream: 'a',
    });
  } catch (e) {
    await up.close();
    throw e;
  }
  return { gw, seen, close: async () => { await gw.close(); await up.close(); } };
}
