// `tandem playground` (what `npm start` runs): both gateways on loopback in front of
// demo backends, configured from one policy, then a self-check that sends the same
// users through both and counts agreement. Runs until Ctrl-C (or exits after the
// self-check with --check).
import type { Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startKong } from "../sim/kong";
import { startEnvoy } from "../sim/envoy";
import { TAGS_HEADER } from "../core-js/tandem-core";
import { distDir } from "./dist-core";
import { loadPolicy } from "./validate";
import { PolicyFileError } from "./policy-file";
import { UsageError } from "./usage-error";
import { getBody } from "./simulate/http-client";
import { closeOnSignal, interruptIsNormal } from "./exit";
import { experimentConfig, kongExperimentConfig } from "./render";
import { backend, type BackendReply } from "./playground/backend";
import { curlArgs, userRequest, type ExperimentShape as KeyShape } from "./playground/user-request";
import { VARIANT_HEADER } from "../core-js/tandem-core";

interface Variant { name: string; upstream?: string }
interface ExperimentShape extends KeyShape { variantHeader?: string; variants: Variant[]; experiments?: unknown[] }

export const PLAYGROUND_USAGE = "tandem playground [--policy <policy.yaml>] [--kong-port 8000] [--envoy-port 10000] [--backend-port 9001] [--check]";

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

const USERS = 1000;

export async function playground(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: {
    policy: { type: "string", default: "deploy/examples/checkout.yaml" },
    "kong-port": { type: "string", default: "8000" }, "envoy-port": { type: "string", default: "10000" },
    "backend-port": { type: "string", default: "9001" },
    check: { type: "boolean", default: false },
  } });
  for (const opt of ["kong-port", "envoy-port", "backend-port"] as const) {
    const p = values[opt]!;
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw new UsageError(`--${opt} must be a port number 0-65535, got ${JSON.stringify(p)}`);
  }
  const policy = loadPolicy(values.policy!);
  const ex = experimentConfig(policy) as unknown as ExperimentShape | null;
  if (!ex) throw new PolicyFileError(`${values.policy}: the playground needs spec.experiment`);
  const header = (ex.variantHeader ?? VARIANT_HEADER).toLowerCase();
  const names = [...new Set(ex.variants.map((v) => v.upstream ?? v.name))];
  const firstBackend = Number(values["backend-port"]);
  const backendPort = (i: number) => (firstBackend === 0 ? 0 : firstBackend + i);
  // The Kong harness does not survive a port in use (its plugin server outlives it):
  // find out first, and say which port.
  await portFree(Number(values["kong-port"]), "--kong-port");
  await portFree(Number(values["envoy-port"]), "--envoy-port");
  for (let i = 0; i < names.length; i++) await portFree(backendPort(i), `demo backend ${names[i]}`);
  const servers: Server[] = [];
  const gateways: Array<{ close(): Promise<unknown> }> = [];
  const stop = async () => {
    await Promise.allSettled(gateways.map((g) => g.close()));
    for (const s of servers) { s.closeAllConnections(); s.close(); }
  };
  closeOnSignal(stop);
  // A failed start (e.g. a port in use) closes what did start.
  const failed = async (e: unknown): Promise<never> => { await stop(); throw e; };
  const addrs: Record<string, { host: string; port: number }> = {};
  for (let i = 0; i < names.length; i++) {
    const s = await backend(names[i], backendPort(i), header).catch(failed);
    servers.push(s);
    addrs[names[i]] = { host: "127.0.0.1", port: (s.address() as { port: number }).port };
  }
  const kong = await startKong({
    plugins: [{ name: "experiment", dir: join(distDir(), "kong", "experiment"), config: kongExperimentConfig(ex as unknown as Record<string, unknown>) }],
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

  const out = process.stdout;
  out.write(`tandem playground — policy ${values.policy}\n`);
  out.write(`  Kong  (harness + kong-js-pluginserver)  http://127.0.0.1:${kong.port}\n`);
  out.write(`  Envoy (harness + tandem.wasm on V8)     http://127.0.0.1:${envoy.port}\n`);
  out.write(`  backends: ${names.map((n) => `${n} :${addrs[n].port}`).join(", ")}\n\n`);

  // Self-check: the same users, with the policy's key, inside its scope, through both.
  const tagging = (ex.experiments?.length ?? 0) > 0;
  const counts: Record<string, Record<string, number>> = { kong: {}, envoy: {} };
  const tagCounts: Record<string, number> = {};
  let same = 0;
  let outside = 0;
  const sample = userRequest(ex, "user-0");
  for (let i = 0; i < USERS; i++) {
    const r = userRequest(ex, `user-${i}`);
    const [k, e] = await Promise.all([kong.port, envoy.port].map(async (port) =>
      JSON.parse(await getBody(port, r.path, r.headers)) as BackendReply)).catch(failed);
    const kv = k.tandem[header] ?? null;
    const ev = e.tandem[header] ?? null;
    counts.kong[String(kv)] = (counts.kong[String(kv)] ?? 0) + 1;
    counts.envoy[String(ev)] = (counts.envoy[String(ev)] ?? 0) + 1;
    if (kv === null && ev === null) outside++;
    if (kv === ev && (k.tandem[TAGS_HEADER] ?? null) === (e.tandem[TAGS_HEADER] ?? null)) same++;
    for (const t of (k.tandem[TAGS_HEADER] ?? "").split(";").map((x) => x.trim()).filter(Boolean)) tagCounts[t] = (tagCounts[t] ?? 0) + 1;
  }
  const fmt = (c: Record<string, number>) => Object.entries(c).sort().map(([v, n]) => `${v} ${n}`).join(", ");
  out.write(`self-check, ${USERS} users (${sample.keyNote}), GET ${sample.path}${sample.headers.host ? ` on ${sample.headers.host}` : ""}:\n`);
  out.write(`  kong:  ${fmt(counts.kong)}\n  envoy: ${fmt(counts.envoy)}\n`);
  if (tagging) out.write(`  tags (${TAGS_HEADER}, kong): ${fmt(tagCounts)}\n`);
  out.write(`  same ${tagging ? "variant and tags" : "variant"} on both: ${same}/${USERS}\n`);
  if (outside > 0) out.write(`  ${outside} requests were outside the policy (no variant): the self-check could not reach the experiment\n`);
  const ok = same === USERS && outside === 0;
  if (values.check) { await stop(); return ok ? 0 : 1; }

  const curl = (port: string, id: string | null) => `curl -s ${curlArgs(ex, port, id)}`;
  out.write(`\ntry (the backends echo the headers tandem set, under "tandem"):\n`);
  out.write(`  # a new visitor gets a variant (and a sticky cookie when the policy issues one)\n  curl -si ${curlArgs(ex, String(kong.port), null)}\n`);
  out.write(`  # the same user gets the same variant${tagging ? " and tags" : ""} on both gateways\n  for p in ${kong.port} ${envoy.port}; do ${curl("$p", "42")}; done\n`);
  out.write(`  # the split over 200 users\n  for i in $(seq 200); do ${curl(String(envoy.port), "u$i")}; done | grep -o '"${header}":"[^"]*"' | sort | uniq -c\n`);
  out.write(`  # clients cannot pick their variant: the header is replaced\n  ${curl(String(kong.port), "42")} -H '${header}: ${ex.variants[ex.variants.length - 1].name}'\n`);
  out.write(`\nCtrl-C to stop.\n`);
  // Ctrl-C (or SIGTERM) is how the playground ends: ./exit.ts closes the servers and exits 0.
  interruptIsNormal();
  return new Promise<number>(() => {});
}
