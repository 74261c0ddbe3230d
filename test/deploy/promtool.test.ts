// Tier 2 of the observability checks: Prometheus's own promtool (Debian's `prometheus`
// package, /usr/bin/promtool) checks deploy/prometheus/rules.yaml, the scrape config, and runs
// the rule unit tests of deploy/prometheus/rules.test.yaml (series that cross each alert
// threshold and series that do not). Without promtool the file says so in one line and skips.
import { afterAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { RULES_FILE, RULES_TEST_FILE, SCRAPE_FILE } from "../support/deploy-queries";
import { istioPod, kongEndpoint, scrapeConfigWithPods } from "../support/scrape-config";

const PROMTOOL = "/usr/bin/promtool";
const HAVE = existsSync(PROMTOOL);
if (!HAVE) console.log("skipped: promtool not installed");

function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr }));
  });
}

const dir = HAVE ? mkdtempSync(join(tmpdir(), "tandem-promtool-")) : "";
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe.skipIf(!HAVE)("promtool", () => {
  it("check rules: deploy/prometheus/rules.yaml", async () => {
    const r = await promtool(["check", "rules", RULES_FILE], dirname(RULES_FILE));
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code, r.out).toBe(0);
  });

  it("check rules finds a broken rule (the check is not vacuous)", async () => {
    const bad = join(dir, "bad-rules.yaml");
    writeFileSync(bad, readFileSync(RULES_FILE, "utf8").replace("sum by (gateway, policy, experiment, variant) (rate(tandem_requests_total[1m]))\n", "sum by (gateway, policy, experiment, variant) (rate(tandem_requests_total[1m])\n"));
    const r = await promtool(["check", "rules", bad], dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("FAILED");
  });

  it("check config: deploy/prometheus/prometheus.yaml (Kubernetes discovery swapped for static pods: Debian's build has none)", async () => {
    const swapped = scrapeConfigWithPods({
      "tandem-kong": [kongEndpoint("10.0.0.7:9542", "tandem-experiment")],
      "tandem-envoy": [istioPod("10.0.0.9:15090", "15020")],
    });
    const file = join(dir, "prometheus.yaml");
    writeFileSync(file, stringify(swapped));
    copyFileSync(RULES_FILE, join(dir, "rules.yaml"));
    const r = await promtool(["check", "config", file], dir);
    expect(r.out).toContain("is valid prometheus config file syntax");
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code, r.out).toBe(0);
    // the file as written names only Kubernetes discovery, which this build rejects by name
    const asIs = await promtool(["check", "config", SCRAPE_FILE], dirname(SCRAPE_FILE));
    if (asIs.code !== 0) expect(asIs.out).toContain("field kubernetes_sd_configs not found");
  });

  it("test rules: deploy/prometheus/rules.test.yaml (every threshold crossed and not crossed)", async () => {
    const r = await promtool(["test", "rules", RULES_TEST_FILE], dirname(RULES_TEST_FILE));
    expect(r.out).toContain("SUCCESS");
    expect(r.code, r.out).toBe(0);
  });

  it("test rules fails when a threshold moves (the unit tests hold the 99% and 500 ms)", async () => {
    for (const [from, to] of [["< 0.99)", "< 0.85)"], ["> 0.5)", "> 0.8)"]]) {
      const d = mkdtempSync(join(dir, "mut-"));
      writeFileSync(join(d, "rules.yaml"), readFileSync(RULES_FILE, "utf8").split(from).join(to));
      copyFileSync(RULES_TEST_FILE, join(d, "rules.test.yaml"));
      const r = await promtool(["test", "rules", "rules.test.yaml"], d);
      expect(r.code, `${from} -> ${to}`).not.toBe(0);
    }
  });
});
