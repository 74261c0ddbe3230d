// The playground's gateways each run in a worker thread (cli/playground/gateway-thread.ts):
// they answer on their ports, take a new config, report a refused one, and close
// cleanly: no plugin-server process and no socket folder left behind.
import { afterAll, describe, expect, it } from "vitest";
import http from "node:http";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { GatewayThread } from "../../../cli/playground/gateway-thread";

const ROOT = resolve(__dirname, "../../..");
const FIXTURES = join(ROOT, "test", "fixtures", "kong");
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

let up: http.Server;
const threads: GatewayThread[] = [];
afterAll(async () => {
  await Promise.allSettled(threads.map((t) => t.close()));
  up?.closeAllConnections();
  up?.close();
});

async function upstream(): Promise<number> {
  up = http.createServer((req, res) => { req.resume(); res.end("ok"); });
  await new Promise<void>((r) => up.listen(0, "127.0.0.1", () => r()));
  return (up.address() as AddressInfo).port;
}

describe("playground gateway threads", () => {
  it("Kong in its thread proxies, reconfigures, refuses a bad config, and ends its plugin servers on close", async () => {
    const port = await upstream();
    const kong = await GatewayThread.kong({
      plugins: [{ name: "echo", dir: join(FIXTURES, "echo"), config: {} }],
      upstreams: { a: { host: "127.0.0.1", port } }, defaultUpstream: "a", keepHistory: false,
    }, []);
    threads.push(kong);
    const r = await fetch(`${kong.url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get("server")).toMatch(/^kong\//);
    await expect(kong.configure("echo", { nope: 1 })).rejects.toThrow(/nope/);
    await expect(kong.configure("no-such-plugin", {})).rejects.toThrow(/no plugin "no-such-plugin"/);
    const pids = (kong as unknown as { info: { pids: number[]; dirs: string[] } }).info.pids;
    const dirs = (kong as unknown as { info: { pids: number[]; dirs: string[] } }).info.dirs;
    expect(pids).toHaveLength(1);
    expect(pids.every(alive)).toBe(true);
    expect(dirs.every((d) => existsSync(d))).toBe(true);
    await kong.close();
    expect(pids.some(alive)).toBe(false);
    expect(dirs.some((d) => existsSync(d))).toBe(false);
    await expect(fetch(`${kong.url}/`)).rejects.toThrow();
  }, 120_000);

  it("Envoy in its thread proxies through tandem.wasm and reports on_configure's answer", async () => {
    const port = up ? (up.address() as AddressInfo).port : await upstream();
    const wasm = join(ROOT, "dist", "wasm", "tandem.wasm");
    const good = JSON.stringify({ name: "t", variants: [{ name: "stable", weight: 100 }] });
    const envoy = await GatewayThread.envoy({
      filters: [{ wasm, rootId: "experiment", configuration: good, failurePolicy: "FAIL_OPEN" }],
      clusters: { a: { host: "127.0.0.1", port } }, routes: [{ cluster: "a" }],
    });
    threads.push(envoy);
    const r = await fetch(`${envoy.url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get("server")).toBe("envoy");
    expect(await envoy.reconfigure("experiment", good)).toBe(true);
    expect(await envoy.reconfigure("experiment", "{not json")).toBe(false);
    await envoy.close();
    await expect(fetch(`${envoy.url}/`)).rejects.toThrow();
  }, 120_000);
});
