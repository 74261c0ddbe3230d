// Demo upstreams for gateway tests: each answers JSON naming itself and echoing the
// variant header it received.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Backends {
  addrs: Record<string, { host: string; port: number }>;
  seen: Array<{ backend: string; headers: Record<string, string | string[] | undefined> }>;
  close(): Promise<void>;
}

export async function startBackends(names: string[]): Promise<Backends> {
  const servers: Server[] = [];
  const addrs: Backends["addrs"] = {};
  const seen: Backends["seen"] = [];
  for (const name of names) {
    const s = createServer((req, res) => {
      req.resume();
      seen.push({ backend: name, headers: req.headers });
      res.writeHead(200, { "content-type": "application/json", "set-cookie": "app=1; Path=/" });
      res.end(JSON.stringify({ backend: name, variant: req.headers["x-tandem-variant"] ?? null }));
    });
    await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
    servers.push(s);
    addrs[name] = { host: "127.0.0.1", port: (s.address() as AddressInfo).port };
  }
  return {
    addrs, seen,
    close: async () => { await Promise.all(servers.map((s) => new Promise<void>((ok) => { s.closeAllConnections(); s.close(() => ok()); }))); },
  };
}

export async function get(port: number, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as { backend: string; variant: string | null } };
}
