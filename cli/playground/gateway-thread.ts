// The main thread's handle on one playground gateway running in its own worker thread
// (./gateway-worker.ts, built beside the CLI bundle as playground-gateway.js): start it,
// reconfigure a plugin or filter, close it. The page and the load generator need only
// its port (and its metrics addresses).
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { existsSync, rmSync } from "node:fs";
import type { KongGatewayOptions } from "../../sim/kong";
import type { EnvoyOptions } from "../../sim/envoy";
import type { GatewayCall, GatewayReady, GatewayReply, GatewayStart } from "./gateway-worker";

export const GATEWAY_WORKER_FILE = "playground-gateway.js";

// Beside this file in the CLI bundle (dist/cli); from source (tests), in dist/cli.
const DEFAULT_DIR = [__dirname, join(__dirname, "..", "..", "dist", "cli")].find((d) => existsSync(join(d, GATEWAY_WORKER_FILE))) ?? __dirname;

type Call = GatewayCall extends infer C ? (C extends { id: number } ? Omit<C, "id"> : never) : never;

// Threads not closed yet. A main thread that exits without closing them (process.exit
// after an error) stops the threads at once, before they end their plugin servers:
// the 'exit' hook does it here, as sim/kong/plugin-server.ts does for its own process
// (SIGTERM, as Kong stops them; the socket folders removed).
const live = new Set<GatewayThread>();
let exitHooked = false;

export class GatewayThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, (r: GatewayReply) => void>();
  private seq = 0;
  private closed = false;
  private info!: GatewayReady;

  private constructor(start: GatewayStart, dir: string) {
    this.worker = new Worker(join(dir, GATEWAY_WORKER_FILE), { workerData: start });
    this.worker.on("message", (m: GatewayReply) => {
      const w = this.waiting.get(m.id);
      if (w) { this.waiting.delete(m.id); w(m); }
    });
  }

  static kong(opts: KongGatewayOptions, metricsOf: string[], dir = DEFAULT_DIR): Promise<GatewayThread> {
    return new GatewayThread({ kind: "kong", opts, metricsOf }, dir).started();
  }

  static envoy(opts: EnvoyOptions, dir = DEFAULT_DIR): Promise<GatewayThread> {
    return new GatewayThread({ kind: "envoy", opts }, dir).started();
  }

  private async started(): Promise<GatewayThread> {
    const first = await new Promise<{ ready?: GatewayReady; failed?: string }>((ok) => {
      const onMessage = (m: { ready?: GatewayReady; failed?: string }) => {
        if (!m.ready && m.failed === undefined) return;
        this.worker.off("message", onMessage);
        ok(m);
      };
      this.worker.on("message", onMessage);
      this.worker.once("error", (e: Error) => ok({ failed: e.message }));
      this.worker.once("exit", (code) => ok({ failed: `gateway thread exited (${code}) before it listened` }));
    });
    if (!first.ready) {
      await this.worker.terminate();
      throw new Error(first.failed);
    }
    this.info = first.ready;
    live.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on("exit", () => { for (const t of live) t.endNow(); });
    }
    return this;
  }

  get port(): number { return this.info.port; }
  get url(): string { return `http://127.0.0.1:${this.info.port}`; }
  get adminUrl(): string { return this.info.adminUrl; }
  get metricsUrls(): string[] { return this.info.metricsUrls; }

  private call(c: Call): Promise<GatewayReply> {
    const id = ++this.seq;
    return new Promise((ok) => {
      this.waiting.set(id, ok);
      this.worker.postMessage({ ...c, id });
    });
  }

  /** Kong: a plugin's new config and its entity's `enabled` (default unchanged; throws the harness's schema error text). */
  async configure(plugin: string, config: Record<string, unknown>, enabled?: boolean): Promise<void> {
    const r = await this.call({ op: "configure", plugin, config, enabled });
    if (r.error !== undefined) throw new Error(r.error);
  }

  /** Envoy: a filter's new configuration; false when its on_configure refused it. */
  async reconfigure(rootId: string, configuration: string): Promise<boolean> {
    const r = await this.call({ op: "reconfigure", rootId, configuration });
    if (r.error !== undefined) throw new Error(r.error);
    return r.value === true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const done = new Promise((ok) => this.worker.once("exit", ok));
    await this.call({ op: "close" });
    // The thread ends once its servers are gone; terminate bounds the wait.
    await Promise.race([done, new Promise((ok) => setTimeout(ok, 2000).unref())]);
    await this.worker.terminate();
    live.delete(this);
  }

  private endNow(): void {
    for (const pid of this.info.pids) { try { process.kill(pid, "SIGTERM"); } catch { /* gone already */ } }
    for (const d of this.info.dirs) rmSync(d, { recursive: true, force: true });
  }
}
