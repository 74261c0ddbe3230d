// A real Prometheus server for tests (Debian's `prometheus` package, /usr/bin/prometheus):
// started on loopback (127.0.0.1, a free port) with a temp --storage.tsdb.path and the
// config and rule files a test gives, queried through its HTTP API (/api/v1/query), and
// always stopped: stop() kills it by pid and removes its temp dir; a test process that
// exits without calling stop() still kills it (process "exit" hook).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

export const PROMETHEUS = "/usr/bin/prometheus";
export const havePrometheus = (): boolean => existsSync(PROMETHEUS);

export interface PromSample { metric: Record<string, string>; value: number }

export interface PrometheusServer {
  url: string;
  dir: string;
  /** an instant query at `time` (unix seconds; default now): the vector's samples (a scalar: one sample, no labels) */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** /api/v1/targets' active targets: job, scrape URL, health, last error */
  targets(): Promise<Array<{ job: string; url: string; health: string; lastError: string; labels: Record<string, string> }>>;
  /** what it printed (warnings and errors: --log.level=warn) */
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 10_000 }, (res) => {
      let b = "";
      res.setEncoding("utf8").on("data", (d) => (b += d)).on("end", () => {
        try { resolve(JSON.parse(b)); } catch { reject(new Error(`${url}: ${res.statusCode} ${b.slice(0, 300)}`)); }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Starts Prometheus with `config` (an object written as prometheus.yaml) and `files`
 * (name -> text, e.g. rules.yaml, written beside it: rule_files are relative to it).
 * Resolves once /-/ready answers 200.
 */
export async function startPrometheus(config: object, files: Record<string, string> = {}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "tandem-prometheus-"));
  const child: { p: ChildProcess | null } = { p: null };
  let out = "";
  const kill = () => { if (child.p && child.p.exitCode === null && child.p.signalCode === null) child.p.kill("SIGKILL"); };
  process.once("exit", kill);
  const stop = async () => {
    process.removeListener("exit", kill);
    const p = child.p;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise<void>((ok) => p.once("exit", () => ok()));
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, "prometheus.yaml"), stringify(config));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    child.p = spawn(PROMETHEUS, [
      `--config.file=${join(dir, "prometheus.yaml")}`, `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn",
    ], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child.p.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
    child.p.stderr!.setEncoding("utf8").on("data", (d) => (out += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.p.exitCode !== null) throw new Error(`prometheus exited (${child.p.exitCode}):\n${out}`);
      const ready = await new Promise<boolean>((ok) => {
        const req = request(`${url}/-/ready`, { agent: false, timeout: 1000 }, (res) => { res.resume(); ok(res.statusCode === 200); });
        req.on("error", () => ok(false)).on("timeout", () => { req.destroy(); ok(false); });
        req.end();
      });
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      url, dir,
      log: () => out,
      stop,
      async query(expr, time) {
        const q = new URLSearchParams({ query: expr, ...(time !== undefined ? { time: String(time) } : {}) });
        const r = await getJson(`${url}/api/v1/query?${q}`);
        if (r.status !== "success") throw new Error(`query failed: ${expr}: ${r.errorType}: ${r.error}`);
        const d = r.data;
        if (d.resultType === "scalar") return [{ metric: {}, value: Number(d.result[1]) }];
        if (d.resultType !== "vector") throw new Error(`query ${expr}: ${d.resultType}, not a vector`);
        return d.result.map((x: { metric: Record<string, string>; value: [number, string] }) => ({ metric: x.metric, value: Number(x.value[1]) }));
      },
      async targets() {
        const r = await getJson(`${url}/api/v1/targets?state=active`);
        return r.data.activeTargets.map((t: any) => ({ job: t.scrapePool, url: t.scrapeUrl, health: t.health, lastError: t.lastError, labels: t.labels }));
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
