// One playground gateway (the Kong harness with its plugin servers, or the Envoy harness
// with tandem.wasm) in a worker thread of its own, built beside the CLI bundle as
// playground-gateway.js; ./gateway-thread.ts is its handle on the main thread.
// Why a thread each: on one event loop the two harnesses, the demo backends and the page
// held each other back (issue 15, measured on the busy 2-core machine with a keep-alive
// client, 16 in flight: Kong alone 178–206 req/s, Envoy alone 1,645–1,813; both driven at
// once in one process 9–27 and 2–52). A Kong request is ~15 plugin-server round trips,
// each waiting for a turn of the loop that Envoy's streams also fill.
import { parentPort, workerData } from "node:worker_threads";
import { dirname } from "node:path";
import { startKong, type KongGateway, type KongGatewayOptions } from "../../sim/kong";
import { startEnvoy, type EnvoyGateway, type EnvoyOptions } from "../../sim/envoy";

export type GatewayStart = { kind: "kong"; opts: KongGatewayOptions; metricsOf: string[] } | { kind: "envoy"; opts: EnvoyOptions };

/** What the thread reports once its gateway listens. */
export interface GatewayReady {
  port: number;
  /** Envoy: the admin listener's address ("" without one) */
  adminUrl: string;
  /** Kong: the /metrics address of each plugin server of `metricsOf` that printed one */
  metricsUrls: string[];
  /** Kong: the plugin server processes and their socket folders (removed if the main thread exits first) */
  pids: number[];
  dirs: string[];
}

export type GatewayCall =
  | { id: number; op: "configure"; plugin: string; config: Record<string, unknown>; enabled?: boolean }
  | { id: number; op: "reconfigure"; rootId: string; configuration: string }
  | { id: number; op: "close" };

export type GatewayReply = { id: number; value?: unknown; error?: string };

const start = workerData as GatewayStart;
let kong: KongGateway | null = null;
let envoy: EnvoyGateway | null = null;

async function main() {
  try {
    if (start.kind === "kong") {
      const k = await startKong(start.opts);
      kong = k;
      const metricsUrls = (await Promise.all(start.metricsOf.map((p) => k.pluginServer(p).metricsUrl().catch(() => null)))).filter((u): u is string => u !== null);
      const servers = start.opts.plugins.map((p) => k.pluginServer(p.name));
      const ready: GatewayReady = {
        port: k.port, adminUrl: "", metricsUrls,
        pids: servers.map((s) => s.pid).filter((p): p is number => p !== undefined),
        dirs: servers.map((s) => dirname(s.socketPath)),
      };
      parentPort!.postMessage({ ready });
    } else {
      envoy = await startEnvoy(start.opts);
      const ready: GatewayReady = { port: envoy.port, adminUrl: envoy.adminUrl ?? "", metricsUrls: [], pids: [], dirs: [] };
      parentPort!.postMessage({ ready });
    }
  } catch (e) {
    parentPort!.postMessage({ failed: (e as Error).message });
  }
}

parentPort!.on("message", async (m: GatewayCall) => {
  const reply = (r: Omit<GatewayReply, "id">) => parentPort!.postMessage({ id: m.id, ...r });
  try {
    if (m.op === "configure") { await kong!.configure(m.plugin, m.config, { enabled: m.enabled }); reply({}); }
    else if (m.op === "reconfigure") reply({ value: envoy!.reconfigure(m.rootId, m.configuration) });
    else {
      await Promise.allSettled([kong?.close(), envoy?.close()]);
      reply({});
      parentPort!.close(); // nothing left: the thread ends
    }
  } catch (e) {
    reply({ error: (e as Error).message });
  }
});

void main();
