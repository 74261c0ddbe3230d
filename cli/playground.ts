// `tandem playground` (what `npm start` runs): both gateways on loopback in front of
// two demo backends, configured from one policy, then a self-check that sends the
// same users through both and counts agreement. Runs until Ctrl-C (or exits after
// the self-check with --check).
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startKong } from "../sim/kong";
import { startEnvoy } from "../sim/envoy";
import { distDir } from "./dist-core";
import { loadPolicy } from "./validate";
import { PolicyFileError } from "./policy-file";
import { UsageError } from "./usage-error";
import { getBody } from "./simulate/http-client";

interface Variant { name: string; upstream?: string }

function backend(name: string, port: number): Promise<Server> {
  const s = createServer((req, res) => {
    req.resume();
    const body = JSON.stringify({ backend: name, variant: req.headers["x-tandem-variant"] ?? null, path: req.url });
    res.writeHead(200, { "content-type": "application/json" }).end(body + "\n");
  });
  return new Promise((ok, fail) => { s.once("error", fail); s.listen(port, "127.0.0.1", () => ok(s)); });
}

// Resolves when `port` can be listened on at 127.0.0.1; else rejects with the listen
// error, its message naming what the port is for.
function portFree(port: number, what: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((ok, fail) => {
    const s = createTcpServer();
    s.once("error", (e: Error) => { e.message += ` (${what})`; fail(e); });
    s.listen(port, "127.0.0.1", () => s.close(() => ok()));
  });
}

export async function playground(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: {
    policy: { type: "string", default: "deploy/examples/checkout.yaml" },
    "kong-port": { type: "string", default: "8000" }, "envoy-port": { type: "string", default: "10000" },
    check: { type: "boolean", default: false },
  } });
  for (const opt of ["kong-port", "envoy-port"] as const) {
    const p = values[opt]!;
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw new UsageError(`--${opt} must be a port number 0-65535, got ${JSON.stringify(p)}`);
  }
  const policy = loadPolicy(values.policy!);
  const ex = policy.spec.experiment as { variantHeader?: string; variants: Variant[] } | undefined;
  if (!ex) throw new PolicyFileError(`${values.policy}: the playground needs spec.experiment`);
  const header = (ex.variantHeader ?? "x-tandem-variant").toLowerCase();
  const names = [...new Set(ex.variants.map((v) => v.upstream ?? v.name))];
  // The Kong harness does not survive a port in use (its plugin server outlives it):
  // find out first, and say which port.
  await portFree(Number(values["kong-port"]), "--kong-port");
  await portFree(Number(values["envoy-port"]), "--envoy-port");
  for (let i = 0; i < names.length; i++) await portFree(9001 + i, `demo backend ${names[i]}`);
  const servers: Server[] = [];
  const gateways: Array<{ close(): Promise<unknown> }> = [];
  const stop = async () => {
    await Promise.allSettled(gateways.map((g) => g.close()));
    for (const s of servers) s.close();
  };
  // A failed start (e.g. a port in use) closes what did start: its sockets and the
  // plugin server would keep the process alive.
  const failed = async (e: unknown): Promise<never> => { await stop(); throw e; };
  const addrs: Record<string, { host: string; port: number }> = {};
  for (let i = 0; i < names.length; i++) {
    servers.push(await backend(names[i], 9001 + i).catch(failed));
    addrs[names[i]] = { host: "127.0.0.1", port: 9001 + i };
  }
  const kong = await startKong({
    plugins: [{ name: "experiment", dir: join(distDir(), "kong", "experiment"), config: ex as unknown as Record<string, unknown> }],
    upstreams: addrs, defaultUpstream: names[0], port: Number(values["kong-port"]),
  }).catch(failed);
  gateways.push(kong);
  const envoy = await startEnvoy({
    filters: [{ wasm: join(distDir(), "wasm", "tandem.wasm"), rootId: "experiment", configuration: JSON.stringify(ex) }],
    clusters: addrs,
    routes: [
      ...ex.variants.map((v) => ({ header: { name: header, value: v.name }, cluster: v.upstream ?? v.name })),
      { cluster: names[0] },
    ],
    port: Number(values["envoy-port"]),
  }).catch(failed);
  gateways.push(envoy);

  // Self-check: 1,000 users through both gateways.
  const counts: Record<string, Record<string, number>> = { kong: {}, envoy: {} };
  let same = 0;
  const users = 1000;
  for (let i = 0; i < users; i++) {
    const h = { "x-user-id": `user-${i}` };
    const [k, e] = await Promise.all([kong.port, envoy.port].map(async (port) => {
      const r = await getBody(port, "/", h);
      return (JSON.parse(r) as { variant: string }).variant;
    })).catch(failed);
    counts.kong[k] = (counts.kong[k] ?? 0) + 1;
    counts.envoy[e] = (counts.envoy[e] ?? 0) + 1;
    if (k === e) same++;
  }
  const fmt = (c: Record<string, number>) => Object.entries(c).map(([v, n]) => `${v} ${n}`).join(", ");
  const out = process.stdout;
  out.write(`tandem playground — policy ${values.policy}\n`);
  out.write(`  Kong  (harness + kong-js-pluginserver)  http://127.0.0.1:${kong.port}\n`);
  out.write(`  Envoy (harness + tandem.wasm on V8)     http://127.0.0.1:${envoy.port}\n`);
  out.write(`  backends: ${names.map((n) => `${n} :${addrs[n].port}`).join(", ")}\n\n`);
  out.write(`self-check, ${users} users (x-user-id):\n  kong:  ${fmt(counts.kong)}\n  envoy: ${fmt(counts.envoy)}\n  same variant on both: ${same}/${users}\n\n`);
  out.write(`try:\n`);
  out.write(`  # a new visitor gets a sticky cookie and a variant\n  curl -si http://127.0.0.1:${kong.port}/ | grep -iE 'set-cookie|backend'\n`);
  out.write(`  # the same user lands on the same variant on both gateways\n  for p in ${kong.port} ${envoy.port}; do curl -s http://127.0.0.1:$p/ -H 'x-user-id: 42'; done\n`);
  out.write(`  # the cookie Kong issued works on Envoy too\n  c=$(curl -si http://127.0.0.1:${kong.port}/ | grep -io 'tandem-uid=[0-9a-f]*'); curl -s http://127.0.0.1:${envoy.port}/ -H "cookie: $c"\n`);
  out.write(`  # the split over 200 users\n  for i in $(seq 200); do curl -s http://127.0.0.1:${envoy.port}/ -H "x-user-id: u$i"; done | grep -o '"backend":"[^"]*"' | sort | uniq -c\n`);
  out.write(`  # clients cannot pick their variant: the header is replaced\n  curl -s http://127.0.0.1:${kong.port}/ -H 'x-user-id: 42' -H '${header}: ${ex.variants[ex.variants.length - 1].name}'\n`);
  if (values.check) { await stop(); return same === users ? 0 : 1; }
  out.write(`\nCtrl-C to stop.\n`);
  await new Promise<void>((resolve) => process.once("SIGINT", resolve));
  await stop();
  return 0;
}
