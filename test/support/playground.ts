// One running `tandem playground` (the built CLI, as `npm start` runs it) on ephemeral
// ports, for the page and data-endpoint tests: its page URL, a JSON getter and poster
// for the data endpoint, a poll-until helper, and a stop that waits for the exit.
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { CLI, ROOT, requireBuilt } from "./dist";

export interface Playground { child: ChildProcess; page: string; kong: string; envoy: string; out: () => string; stop(): Promise<number | null> }

export async function startPlayground(...args: string[]): Promise<Playground> {
  const child = spawn(process.execPath, [requireBuilt(CLI), "playground", "--kong-port", "0", "--envoy-port", "0", "--backend-port", "0", "--ui-port", "0", ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stderr!.setEncoding("utf8").on("data", (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (d) => { out += d; if (out.includes("Ctrl-C to stop.")) resolve(); });
    child.once("exit", () => reject(new Error(`the playground exited before it was up:\n${out}`)));
  });
  const url = (re: RegExp) => re.exec(out)![1];
  return {
    child,
    page: url(/page: (http:\/\/127\.0\.0\.1:\d+)/),
    kong: url(/Kong .* (http:\/\/127\.0\.0\.1:\d+)/),
    envoy: url(/Envoy .* (http:\/\/127\.0\.0\.1:\d+)/),
    out: () => out,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
      child.kill("SIGINT");
      return exited;
    },
  };
}

export function call(url: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const req = request(url, { method: text === undefined ? "GET" : "POST", headers: text === undefined ? {} : { "content-type": "application/json" }, agent: false }, (res) => {
      let b = "";
      res.setEncoding("utf8").on("data", (d) => (b += d)).on("end", () => {
        try { resolve({ status: res.statusCode!, json: JSON.parse(b) }); } catch (e) { reject(new Error(`not JSON from ${url}: ${b.slice(0, 200)}`)); }
      });
    });
    req.on("error", reject);
    req.end(text);
  });
}

/** Polls `get` every 500 ms until `ok` holds of its value; rejects after `ms` with the last value. */
export async function until<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await get();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; last: ${JSON.stringify(last).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
