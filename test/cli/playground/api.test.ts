// The playground's data endpoint and controls, without a browser: GET /api/state shows
// both gateways carrying the load generator's traffic and agreeing; POST /api/control
// refuses out-of-range values with a message, shows the core's message for a policy it
// refuses and keeps the running one, and puts a new weight, faults and another example
// policy in force on both gateways.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startPlayground, until, type Playground } from "../../support/playground";

let pg: Playground;
beforeAll(async () => { pg = await startPlayground("--rps", "60"); }, 240_000);
afterAll(async () => { if (pg) expect(await pg.stop()).toBe(0); }, 30_000);

const state = async () => (await call(`${pg.page}/api/state`)).json;
const control = (body: unknown) => call(`${pg.page}/api/control`, body);
const weights = (s: any) => s.policy.variants.map((v: any) => `${v.name} ${v.weight}`).join(", ");
const sum = (xs: Array<number | null>) => xs.reduce<number>((a, b) => a + (b ?? 0), 0);

describe("playground data endpoint", () => {
  it("serves the page and its bundled assets from the build (no CDN)", async () => {
    const html = await new Promise<string>((ok, fail) => {
      import("node:http").then(({ get }) => get(pg.page + "/", (r) => { let b = ""; r.setEncoding("utf8").on("data", (d) => (b += d)).on("end", () => ok(b)); }).on("error", fail));
    });
    expect(html).toContain('<script src="app.js">');
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("shows both gateways carrying traffic, per variant, and agreeing for every user", async () => {
    const s = await until(state, (x) => ["kong", "envoy"].every((g) => sum(x.gateways[g].rate.stable ?? []) > 20 && sum(x.gateways[g].rate.canary ?? []) > 0), 90_000, "traffic on both");
    expect(s.policy.name).toBe("playground.yaml");
    expect(weights(s)).toBe("stable 90, canary 10");
    expect(s.policy.parts).toEqual(["experiment", "circuit-breaker", "fault-injection"]);
    for (const g of ["kong", "envoy"]) {
      const gw = s.gateways[g];
      expect(gw.t ?? s.t).toHaveLength(gw.rate.stable.length);
      expect(Object.keys(gw.guards)).toEqual(["canary"]);
      expect(gw.sources.header + (gw.sources.issued ?? 0)).toBeGreaterThan(0);
      expect(gw.decisions.length).toBeGreaterThan(0);
      expect(gw.decisions[0]).toMatchObject({ variant: expect.stringMatching(/^(stable|canary)$/), reason: "split", status: 200 });
    }
    expect(s.agreement.compared).toBeGreaterThan(0);
    expect(s.agreement.differ).toBe(0);
  }, 120_000);

  it("reads Kong's split, guard and sources from its plugin servers' metrics, as a Prometheus would", async () => {
    const s = await until(state, (x) => x.gateways.kong.from === "metrics", 30_000, "Kong's metrics scraped");
    const k = s.gateways.kong;
    expect(k.metrics).toMatch(/^scraped (http:\/\/127\.0\.0\.1:\d+\/metrics(, )?){3}$/);
    expect(k.sourcesFrom).toBe("metrics");
    // the self-check's 1,000 users came with a header key
    expect(k.sources.header).toBeGreaterThanOrEqual(1000);
    expect(k.guards.canary.values.at(-1)).toBe(0);
    expect(k.split.stable + k.split.canary).toBeCloseTo(100, 0);
  }, 60_000);

  it("reads Envoy's split, guard and sources from its admin's /stats/prometheus, as a Prometheus would", async () => {
    const s = await until(state, (x) => x.gateways.envoy.from === "metrics" && x.gateways.envoy.sources.header >= 1000, 30_000, "Envoy's metrics scraped");
    const e = s.gateways.envoy;
    expect(e.metrics).toMatch(/^scraped http:\/\/127\.0\.0\.1:\d+\/stats\/prometheus$/);
    expect(e.sourcesFrom).toBe("metrics");
    // the self-check's 1,000 users came with a header key (tandem_assignments_total{source="header"})
    expect(e.sources.header).toBeGreaterThanOrEqual(1000);
    expect(e.guards.canary.values.at(-1)).toBe(0);
    expect(e.split.stable + e.split.canary).toBeCloseTo(100, 0);
  }, 60_000);

  it("refuses out-of-range control values with a message, changing nothing", async () => {
    const before = await state();
    for (const [body, msg] of [
      [{ weight: { variant: "canary", weight: 120 } }, "weight.weight: must be between 0 and 100, got 120"],
      [{ load: { rps: -1, users: 10, returningPercent: 50 } }, "load.rps: must be between 0 and 5000, got -1"],
      [{ backend: { variant: "canary", errorPercent: -3, latencyMs: 0 } }, "backend.errorPercent: must be between 0 and 100, got -3"],
      [{ backend: { variant: "nope", errorPercent: 3, latencyMs: 0 } }, 'backend.variant: must name one of the experiment\'s variants (stable, canary), got "nope"'],
      [{ policy: { example: "../../etc/passwd" } }, "policy.example: must be one of"],
      ["{not json", 'request: must be JSON, got "{not json"'],
    ] as const) {
      const r = await control(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.ok).toBe(false);
      expect(r.json.message).toContain(msg);
    }
    const after = await state();
    expect(weights(after)).toBe(weights(before));
    expect(after.load.rps).toBe(60);
    expect(after.backends.canary.errorPercent).toBe(0);
  }, 60_000);

  it("a weight the core refuses shows the core's message and the running policy stays", async () => {
    const before = await state();
    const r = await control({ weight: { variant: "canary", weight: 33.333 } });
    expect(r.status).toBe(400);
    expect(r.json.message).toBe("experiment.variants[1].weight: must have at most 2 decimals, got 33.333");
    const after = await state();
    expect(after.policy.generation).toBe(before.policy.generation);
    expect(weights(after)).toBe("stable 90, canary 10");
    expect(after.message).toMatchObject({ ok: false, text: r.json.message });
  });

  it("a new weight goes to both gateways, then faults on and off", async () => {
    const r = await control({ weight: { variant: "canary", weight: 30 } });
    expect(r.json).toEqual({ ok: true, message: "weights stable 70 / canary 30 applied to Kong and Envoy (reconfigured)" });
    const s = await state();
    expect(weights(s)).toBe("stable 70, canary 30");
    expect(s.marks.at(-1).label).toBe("weights stable 70 / canary 30");
    // both gateways now send about 30% to the canary (the split of the last 10 s, at 60 pairs/s)
    await until(state, (x) => ["kong", "envoy"].every((g) => Math.abs(x.gateways[g].split.canary - 30) < 10), 60_000, "served split near 30%");
    expect((await control({ faults: { enabled: true } })).json.message).toBe("faults on on Kong and Envoy (reconfigured)");
    expect((await state()).policy.faults).toEqual({ count: 1, enabled: true });
    // the fault acts on both: Kong's fault-injection entity, disabled while the fault was
    // off, is enabled again (30% of the canary's calls answered 503, which the canary's
    // guard counts and may roll back on)
    await until(state, (x) => ["kong", "envoy"].every((g) => x.gateways[g].decisions.some((d: any) => (d.variant === "canary" && d.status === 503) || d.reason === "guard")), 60_000, "fault aborts on both");
    expect((await control({ faults: { enabled: false } })).json.message).toBe("faults off on Kong and Envoy (reconfigured)");
  }, 120_000);

  it("loads another example policy on both gateways", async () => {
    const r = await control({ policy: { example: "canary-guard.yaml" } });
    expect(r.json).toEqual({ ok: true, message: "policy canary-guard.yaml running on Kong and Envoy" });
    const s = await state();
    expect(s.policy.name).toBe("canary-guard.yaml");
    expect(weights(s)).toBe("stable 80, canary 20");
    expect(s.policy.parts).toEqual(["experiment"]);
    expect(s.policy.faults).toBeNull();
    const f = await control({ faults: { enabled: true } });
    expect(f.status).toBe(400);
    expect(f.json.message).toContain("faults.enabled: this policy has no spec.faults");
    await until(state, (x) => ["kong", "envoy"].every((g) => sum(x.gateways[g].rate.stable ?? []) > 10), 60_000, "traffic after the reload");
    // other upstreams: new demo backends, both gateways restarted on their ports
    const bg = await control({ policy: { example: "blue-green.yaml" } });
    expect(bg.json).toEqual({ ok: true, message: "policy blue-green.yaml running on Kong and Envoy" });
    const b = await until(state, (x) => ["kong", "envoy"].every((g) => sum(x.gateways[g].rate.blue ?? []) > 10), 60_000, "traffic on blue");
    expect(weights(b)).toBe("blue 100, green 0");
    expect(b.gateways.kong.url).toBe(pg.kong);
    expect(b.gateways.envoy.url).toBe(pg.envoy);
    for (const g of ["kong", "envoy"]) expect(b.gateways[g].split).toEqual({ blue: 100 });
  }, 180_000);
});
