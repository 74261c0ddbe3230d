// `tandem playground` (what `npm start` runs): both gateways on loopback in front of
// demo backends, configured from one policy, then a self-check that sends the same
// users through both and counts agreement, then the live page (./playground/) with its
// load generator and controls. Runs until Ctrl-C (or exits after the self-check with
// --check).
import type { Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TAGS_HEADER } from "../core-js/tandem-core";
import { distDir } from "./dist-core";
import { loadPolicy } from "./validate";
import { PolicyFileError } from "./policy-file";
import { UsageError } from "./usage-error";
import { getBody } from "./simulate/http-client";
import { closeOnSignal, interruptIsNormal } from "./exit";
import { partConfig, planOf } from "./policy-plan";
import type { BackendReply } from "./playground/backend";
import { curlArgs, userRequest } from "./playground/user-request";
import { Stack, RefusedPolicy } from "./playground/stack";
import { Live, playgroundShape } from "./playground/live";
import { uiServer } from "./playground/ui-server";
import { CONTROL_LIMITS } from "./playground/controls";


export const PLAYGROUND_USAGE = "tandem playground [--policy <policy.yaml>] [--kong-port 8000] [--envoy-port 10000] [--backend-port 9001] [--ui-port 8080] [--rps 200] [--check]";

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
// The page's load at start: pairs per second (each to both gateways), users, returning share.
const START_LOAD = { users: 1000, returningPercent: 80 };

export async function playground(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: {
    policy: { type: "string", default: "deploy/examples/playground.yaml" },
    "kong-port": { type: "string", default: "8000" }, "envoy-port": { type: "string", default: "10000" },
    "backend-port": { type: "string", default: "9001" }, "ui-port": { type: "string", default: "8080" },
    rps: { type: "string", default: "200" },
    check: { type: "boolean", default: false },
  } });
  for (const opt of ["kong-port", "envoy-port", "backend-port", "ui-port"] as const) {
    const p = values[opt]!;
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw new UsageError(`--${opt} must be a port number 0-65535, got ${JSON.stringify(p)}`);
  }
  const [lo, hi] = CONTROL_LIMITS.rps;
  if (!/^\d+$/.test(values.rps!) || Number(values.rps) > hi) throw new UsageError(`--rps must be an integer ${lo}-${hi}, got ${JSON.stringify(values.rps)}`);
  const doc = loadPolicy(values.policy!);
  if (!partConfig(doc, "experiment")) throw new PolicyFileError(`${values.policy}: the playground needs spec.experiment`);
  let shape;
  try { shape = playgroundShape(doc); } catch (e) { throw e instanceof RefusedPolicy ? new PolicyFileError(`${values.policy}: ${e.message}`) : e; }
  const ex = planOf(shape.doc);
  const header = shape.variantHeader;
  const names = shape.upstreams;
  const firstBackend = Number(values["backend-port"]);
  const backendPort = (i: number) => (firstBackend === 0 ? 0 : firstBackend + i);
  // The Kong harness does not survive a port in use (its plugin server outlives it):
  // find out first, and say which port.
  await portFree(Number(values["kong-port"]), "--kong-port");
  await portFree(Number(values["envoy-port"]), "--envoy-port");
  for (let i = 0; i < names.length; i++) await portFree(backendPort(i), `demo backend ${names[i]}`);
  if (!values.check) await portFree(Number(values["ui-port"]), "--ui-port");
  let stack: Stack | null = null;
  let live: Live | null = null;
  let ui: Server | null = null;
  const stop = async () => {
    if (ui) { ui.closeAllConnections(); ui.close(); }
    await live?.close();
    await stack?.close();
  };
  closeOnSignal(stop);
  // A failed start (e.g. a port in use) closes what did start.
  const failed = async (e: unknown): Promise<never> => { await stop(); throw e; };
  stack = await Stack.start(shape, { kong: Number(values["kong-port"]), envoy: Number(values["envoy-port"]), backend: firstBackend }).catch(failed);
  const kong = stack.kong;
  const envoy = stack.envoy;

  const out = process.stdout;
  out.write(`tandem playground — policy ${values.policy} (${shape.parts.join(", ")})\n`);
  out.write(`  Kong  (harness + kong-js-pluginserver)  http://127.0.0.1:${kong.port}\n`);
  out.write(`  Envoy (harness + tandem.wasm on V8)     http://127.0.0.1:${envoy.port}\n`);
  // Where each gateway serves its metrics, for a Prometheus to scrape (deploy/prometheus).
  const metrics = (g: "kong" | "envoy") => stack!.metricsUrls(g).join(" ") || "none";
  out.write(`  metrics: kong ${metrics("kong")}; envoy ${metrics("envoy")}\n`);
  out.write(`  backends: ${names.map((n) => `${n} :${stack!.addr(n).port}`).join(", ")}\n\n`);

  // Self-check: the same users, with the policy's key, inside its scope, through both.
  const tagging = ex.taggingExperiments > 0;
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

  live = new Live(stack, values.policy!.split("/").pop()!, join(distDir(), "..", "deploy", "examples"), { rps: Number(values.rps), ...START_LOAD });
  const current = live;
  ui = await uiServer(() => current, Number(values["ui-port"])).catch(failed);
  const uiPort = (ui.address() as { port: number }).port;

  const curl = (port: string, id: string | null) => `curl -s ${curlArgs(ex, port, id)}`;
  out.write(`\npage: http://127.0.0.1:${uiPort}  (open it in a browser: both gateways live; the load generator sends ${values.rps} requests a second to each)\n`);
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
