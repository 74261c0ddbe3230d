// The decision log in the Envoy experiment filter (wasm/filter/decision-log.ts): the line
// of each sampled request with one proxy_log at info, what it costs in host calls (every
// proxy-wasm call tandem.wasm makes over a stream, as bench/host-calls.ts counts them),
// and the request ids the core samples.
import { describe, expect, it } from "vitest";
import { WasmHost } from "../../sim/envoy";
import { FILTER_WASM, loadCore, requireBuilt } from "../support/dist";
import { DECISION_LOG_PREFIX } from "../../wasm/core/metrics/catalog";

const EXPERIMENT = {
  name: "checkout-v2", policy: "checkout",
  stickiness: { sources: ["header:x-user-id"] },
  variants: [{ name: "stable", weight: 50, upstream: "api-v1" }, { name: "canary", weight: 50, upstream: "api-v2" }],
};
// A proxied stream: the router set the upstream host.
const PROPS = { "source.address": "10.1.2.3:50000", "upstream.address": "10.9.8.7:8080" };

async function host(config: Record<string, unknown>): Promise<WasmHost> {
  return WasmHost.load({ wasm: requireBuilt(FILTER_WASM), rootId: "experiment", configuration: JSON.stringify(config) });
}

// One stream: request headers, a 200, on_log. Host calls by name and the log lines written.
function stream(h: WasmHost, id: string): { calls: Record<string, number>; total: number; lines: string[] } {
  const before = h.logs.length;
  const calls = new Map<string, number>();
  h.vm.hostCalls = calls;
  const s = h.newStream(PROPS);
  s.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "shop"], ["x-user-id", "u1"], ["x-request-id", id]], true);
  s.responseHeaders([[":status", "200"]], false);
  s.done();
  h.vm.hostCalls = null;
  const c = Object.fromEntries([...calls].map(([k, v]) => [k.replace(/^env\./, ""), v]));
  return { calls: c, total: Object.values(c).reduce((a, b) => a + b, 0), lines: h.logs.slice(before).map((l) => l.message).filter((m) => m.startsWith(DECISION_LOG_PREFIX)) };
}

const core = loadCore();
const ids = Array.from({ length: 40 }, (_, i) => `id-${i}`);

describe("Envoy: decision log", () => {
  for (const metrics of [false, true]) {
    it(`metrics ${metrics ? "on" : "off"}: a line for exactly the ids the core samples; host calls by case`, async () => {
      const off = await host({ ...EXPERIMENT, metrics });
      const half = await host({ ...EXPERIMENT, metrics, decisionLog: { percent: 50 } });
      const all = await host({ ...EXPERIMENT, metrics, decisionLog: { percent: 100 } });
      const plan = core.configureExperiment(JSON.stringify({ ...EXPERIMENT, decisionLog: { percent: 50 } }));
      // a first stream arms the counters' flush timer (metrics on): measured after it
      for (const h of [off, half, all]) stream(h, "warm-up");
      const base = stream(off, ids[0]);
      const sampledCalls = new Set<number>();
      const unsampledCalls = new Set<number>();
      let sampled = 0;
      for (const id of ids) {
        const r = stream(half, id);
        const want = core.logSampled(plan, id);
        expect(r.lines, id).toHaveLength(want ? 1 : 0);
        if (want) {
          sampled++;
          const o = JSON.parse(r.lines[0].slice(DECISION_LOG_PREFIX.length));
          expect([o.request_id, o.status, o.answered_by, o.source, o.policy]).toEqual([id, 200, "upstream", "header", "checkout"]);
          expect(r.calls.proxy_log).toBe(1);
          sampledCalls.add(r.total);
        } else {
          expect(r.calls.proxy_log ?? 0).toBe(0);
          unsampledCalls.add(r.total);
        }
        expect(stream(off, id).lines).toHaveLength(0);
      }
      expect(sampled).toBeGreaterThan(5);
      expect(sampled).toBeLessThan(35);
      // not sampled: the one read of x-request-id the sample needs (a percent below 100)
      expect([...unsampledCalls]).toEqual([base.total + 1]);
      const a = stream(all, ids[1]);
      expect(a.lines).toHaveLength(1);
      // eslint-disable-next-line no-console
      console.log(`host calls per stream, metrics ${metrics ? "on" : "off"}: off ${base.total}, 50% unsampled ${[...unsampledCalls]}, 50% sampled ${[...sampledCalls]}, 100% ${a.total}`, JSON.stringify({ base: base.calls, all: a.calls }));
      // sampled: the proxy_log, plus what on_log reads for the line when metrics did not already
      // metrics off: + the id's read, the clock at request and response headers, the
      // :status read, on_log's two property reads (upstream called, fault mark), the proxy_log
      if (!metrics) expect([...sampledCalls]).toEqual([base.total + 7]);
      if (metrics) {
        expect([...sampledCalls]).toEqual([base.total + 2]);   // the id's read and the proxy_log
        expect(a.total).toBe(base.total + 2);                   // (100%: the id read for the line)
      }
      for (const h of [off, half, all]) await h.close?.();
    });
  }
});
