// `tandem playground` shows what the policy does: its self-check sends requests the
// policy applies to (inside its scope, with its user key), and the demo backends echo
// the headers tandem set (variant, x-tandem-experiments). The built CLI, as users run it.
import { afterAll, describe, expect, it } from "vitest";
import { tandem } from "../support/cli-run";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, ROOT, requireBuilt } from "../support/dist";

const PORTS = ["--kong-port", "0", "--envoy-port", "0", "--backend-port", "0", "--ui-port", "0"];
const dir = mkdtempSync(join(tmpdir(), "tandem-cli-playground-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));   // leave no temp folder behind

function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => (body += d)).on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const running: Array<ReturnType<typeof spawn>> = [];
afterAll(() => { for (const c of running) if (c.exitCode === null) c.kill("SIGKILL"); });

describe("tandem playground", () => {
  it("--check on a tagging policy scoped to /shop reaches the experiment and compares tags; prints no curl lines", async () => {
    const r = await tandem("playground", "--policy", "deploy/examples/tagging.yaml", "--check", ...PORTS);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("GET /shop");
    expect(r.stdout).toMatch(/kong: {2}all 1000\n/);
    expect(r.stdout).toMatch(/tags \(x-tandem-experiments, kong\): layout=grid \d+, layout=list \d+, pricing=annual-first \d+/);
    expect(r.stdout).toContain("same variant and tags on both: 1000/1000");
    expect(r.stdout).not.toContain("curl");
    expect(r.stdout).not.toContain("null");
  }, 240_000);

  it("--check sends a cookie-keyed policy's users with their cookie, on a host and path in scope", async () => {
    const p = join(dir, "scoped.yaml");
    writeFileSync(p, JSON.stringify({
      apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "scoped" },
      spec: { experiment: { name: "s", stickiness: { sources: ["cookie:sid"] }, scope: { hosts: ["*.beta.example.com"], pathPrefixes: ["/api/"] },
        variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }] } },
    }));
    const r = await tandem("playground", "--policy", p, "--check", ...PORTS);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("(cookie sid), GET /api/ on www.beta.example.com");
    // every user its own id: both variants, no single-client split
    expect(r.stdout).toMatch(/kong: {2}a \d{3}, b \d{3}\n/);
    expect(r.stdout).toContain("same variant on both: 1000/1000");
  }, 240_000);

  it("its demo backends echo the variant and x-tandem-experiments tandem set", async () => {
    const child = spawn(process.execPath, [requireBuilt(CLI), "playground", "--policy", "deploy/examples/tagging.yaml", ...PORTS], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    running.push(child);
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding("utf8").on("data", (d) => { out += d; if (out.includes("Ctrl-C to stop.")) resolve(); });
      child.once("exit", () => reject(new Error(out)));
    });
    const kong = /Kong .* (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
    const envoy = /Envoy .* (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
    // where a Prometheus would scrape each gateway (the Kong plugin server's /metrics serves)
    const kongMetrics = /metrics: kong (http:\/\/127\.0\.0\.1:\d+\/metrics);/.exec(out)![1];
    expect((await get(kongMetrics, {})).body).toContain("# TYPE tandem_requests_total counter");
    // Envoy's admin serves the same series with real labels (render's tag extraction)
    const envoyMetrics = /; envoy (http:\/\/127\.0\.0\.1:\d+\/stats\/prometheus)\n/.exec(out)![1];
    expect((await get(envoyMetrics, {})).body).toMatch(/^tandem_requests_total\{[^}]*variant="all"/m);
    const bodies = await Promise.all([kong, envoy].map((u) => get(`${u}/shop/cart`, { "x-user-id": "42", "x-plan": "pro" })));
    for (const b of bodies) {
      expect(b.status).toBe(200);
      const echo = JSON.parse(b.body);
      expect(echo.tandem["x-tandem-variant"]).toBe("all");
      expect(echo.tandem["x-tandem-experiments"]).toMatch(/^recs=(popular|collab); pricing=annual-first; layout=(grid|list)$/);
    }
    expect(bodies[0].body).toBe(bodies[1].body);
    // the printed curl lines carry the policy's path and key
    expect(out).toContain(`"${kong}/shop" -H "x-user-id: 42"`);
    child.kill("SIGINT");
    expect(await new Promise((ok) => child.once("exit", ok))).toBe(0);
  }, 240_000);
});
