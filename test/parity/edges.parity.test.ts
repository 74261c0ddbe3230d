// Requests the policy core treats apart, the same through the core, Kong and Envoy
// (issue 18 items 2 and 4):
//   - a gRPC call from a new user is assigned as any new user (an id from the request's
//     entropy, the variant it hashes to) but gets no Set-Cookie: gRPC clients keep no
//     cookies (wasm/core/request/grpc.ts; application/grpc-web is not gRPC);
//   - a CORS preflight (OPTIONS with Access-Control-Request-Method) gets no variant and
//     no Set-Cookie, and changes no guard, breaker or metric: a trace with preflights
//     mixed in ends exactly as the same trace without them (wasm/core/request/preflight.ts).
// Each trace runs through the core (modelling each gateway) and through that gateway,
// line by line; the metrics through all three.
import { describe, expect, it } from "vitest";
import { simulate, type Via } from "../../cli/simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE, type GatewayProfile, type SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { rng } from "../support/rng";

const PATHS: Array<{ via: Exclude<Via, "core">; profile: GatewayProfile }> = [
  { via: "kong", profile: KONG_PROFILE },
  { via: "envoy", profile: ENVOY_PROFILE },
];

function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

const ok: TraceUpstream = { status: 200, latencyMs: 3 };
const COOKIE = "tandem-uid";

// Sticky canary on the default cookie source, with a guard on the canary.
const CANARY = doc("edges-canary", {
  experiment: {
    name: "cart",
    variants: [
      { name: "stable", weight: 50, upstream: "cart-v1" },
      { name: "canary", weight: 50, upstream: "cart-v2", guard: { window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50, cooldownMs: 1000, halfOpen: { permittedCalls: 2 }, to: "stable" } },
    ],
  },
});

// New users (no cookie): gRPC calls of both spellings, gRPC-Web and plain HTTP; some
// returning users with a cookie.
function grpcTrace(): TraceRequest[] {
  const kinds: Array<Record<string, string>> = [
    { "content-type": "application/grpc" },
    { "content-type": "application/grpc+proto" },
    { "content-type": "application/grpc-web" },
    { "content-type": "application/json" },
    {},
  ];
  const out: TraceRequest[] = [];
  for (let i = 0; i < 40; i++) {
    const headers: Record<string, string> = { ...kinds[i % kinds.length] };
    if (i % 8 === 7) headers.cookie = `${COOKIE}=returning-${i}`;
    const grpc = (headers["content-type"] ?? "").startsWith("application/grpc") && headers["content-type"] !== "application/grpc-web";
    out.push({ line: i + 1, t: i * 20, method: "POST", path: "/shop.Cart/Add", headers, upstream: grpc ? { status: 200, grpcStatus: 0, trailers: false, latencyMs: 2 } : ok });
  }
  return out;
}

// Users with cookies; the canary fails for a while (its guard trips and recovers).
function baseTrace(seed: number): TraceRequest[] {
  const r = rng(seed);
  const out: TraceRequest[] = [];
  for (let i = 0; i < 120; i++) {
    const t = i * 40;
    const failing = t >= 1200 && t < 2800;
    out.push({
      line: 0, t, method: "GET", path: "/cart", upstream: ok,
      headers: { cookie: `${COOKIE}=user-${Math.floor(r() * 60)}` },
      upstreams: { "cart-v1": ok, "cart-v2": failing && r() < 0.8 ? { status: 503, latencyMs: 2 } : ok, default: ok },
    });
  }
  return out;
}

// A preflight before every third request, 1 ms earlier: the browser's, with the user's
// cookie left out (Fetch sends none) — and some from non-browser clients that do send a
// cookie or a variant header. Every upstream would fail them: if they counted, the
// guard would trip sooner.
function withPreflights(base: TraceRequest[]): { trace: TraceRequest[]; preflight: boolean[] } {
  const trace: TraceRequest[] = [];
  const preflight: boolean[] = [];
  base.forEach((q, i) => {
    if (i % 3 === 0) {
      const headers: Record<string, string> = { origin: "https://shop.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" };
      if (i % 2 === 0) headers.cookie = q.headers.cookie as string;
      if (i % 5 === 0) headers["x-tandem-variant"] = "canary";
      const fail: TraceUpstream = { status: 503, latencyMs: 1 };
      trace.push({ line: 0, t: q.t - 1 < 0 ? 0 : q.t - 1, method: "OPTIONS", path: q.path, headers, upstream: { status: 204 }, upstreams: { "cart-v1": fail, "cart-v2": fail, default: { status: 204 } } });
      preflight.push(true);
    }
    trace.push({ ...q });
    preflight.push(false);
  });
  trace.forEach((q, i) => { q.line = i + 1; });
  return { trace, preflight };
}

function numbered(t: TraceRequest[]): TraceRequest[] {
  return t.map((q, i) => ({ ...q, line: i + 1 }));
}

async function run(via: Via, policy: PolicyDoc, t: TraceRequest[], profile: GatewayProfile): Promise<{ lines: SimResult[]; metrics: string }> {
  const out: string[] = [];
  const lines = await simulate(via, policy, t, (l) => out.push(l), { metrics: true, profile: via === "core" ? profile : undefined });
  return { lines, metrics: out.filter((l) => !l.startsWith("{")).join("\n") };
}

describe("gRPC calls get no Set-Cookie", () => {
  const t = grpcTrace();
  const isGrpc = (q: TraceRequest) => /^application\/grpc(\+|$)/.test(String(q.headers["content-type"] ?? ""));

  it("the core: a new gRPC user is assigned with no cookie; gRPC-Web and HTTP users get theirs", async () => {
    for (const profile of [KONG_PROFILE, ENVOY_PROFILE]) {
      const res = await simulate("core", CANARY, t, () => {}, { profile });
      t.forEach((q, i) => {
        const newUser = q.headers.cookie === undefined;
        expect(res[i].variant, `line ${i + 1}`).not.toBeNull();
        if (!newUser || isGrpc(q)) expect(res[i].setCookie, `line ${i + 1}`).toBeNull();
        else expect(res[i].setCookie, `line ${i + 1}`).toMatch(new RegExp(`^${COOKIE}=[0-9a-f]{32};`));
      });
      expect(t.filter((q) => isGrpc(q) && q.headers.cookie === undefined).length).toBeGreaterThan(10);
    }
  }, 120_000);

  it("the same request as gRPC and as HTTP gets the same variant, with a cookie only over HTTP", async () => {
    // one request id, so one generated id: only the content-type differs
    const one = (ct: string): TraceRequest => ({ line: 1, t: 0, method: "POST", path: "/x", headers: { "content-type": ct, "x-request-id": "c0ffee-1" }, upstream: ok });
    for (let k = 0; k < 8; k++) {
      const id = `req-${k}`;
      const g = await simulate("core", CANARY, [{ ...one("application/grpc"), headers: { "content-type": "application/grpc", "x-request-id": id } }], () => {});
      const h = await simulate("core", CANARY, [{ ...one("application/json"), headers: { "content-type": "application/json", "x-request-id": id } }], () => {});
      expect(g[0].variant).toBe(h[0].variant);
      expect(g[0].setCookie).toBeNull();
      expect(h[0].setCookie).not.toBeNull();
    }
  }, 120_000);

  it.each(PATHS)("answers identically through core and $via", async ({ via, profile }) => {
    const core = await simulate("core", CANARY, t, () => {}, { profile });
    const gw = await simulate(via, CANARY, t, () => {});
    for (let i = 0; i < t.length; i++) expect(gw[i], `${via}, line ${i + 1} ${JSON.stringify(t[i].headers)}`).toEqual(core[i]);
  }, 600_000);
});

// The same canary behind a breaker keyed by route; every upstream fails for a while
// (base trace with `breakerDown`), so the breaker opens and recovers.
const CANARY_BREAKER = doc("edges-breaker", {
  experiment: CANARY.spec.experiment,
  circuitBreaker: { key: "route", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50, openDurationMs: 600, halfOpen: { permittedCalls: 2, maxWaitMs: 5000 } },
});

function breakerTrace(seed: number): TraceRequest[] {
  return baseTrace(seed).map((q) => {
    const down = q.t >= 3200 && q.t < 4000;
    const fail: TraceUpstream = { status: 503, latencyMs: 2 };
    return down ? { ...q, upstreams: { "cart-v1": fail, "cart-v2": fail, default: fail } } : q;
  });
}

const PREFLIGHT_CASES = [
  { name: "a canary guard", policy: CANARY, base: numbered(baseTrace(7)), moved: (r: SimResult) => r.guards?.canary },
  { name: "a canary guard and a route breaker", policy: CANARY_BREAKER, base: numbered(breakerTrace(9)), moved: (r: SimResult) => r.breaker },
];

describe.each(PREFLIGHT_CASES)("CORS preflights change nothing: $name", ({ policy, base, moved }) => {
  const { trace: mixed, preflight } = withPreflights(base);

  it("the core: preflights get no variant, no cookie, no breaker; the other lines and the metrics are those of the trace without them", async () => {
    for (const profile of [KONG_PROFILE, ENVOY_PROFILE]) {
      const alone = await run("core", policy, base, profile);
      const both = await run("core", policy, mixed, profile);
      // the guard (or breaker) did trip: a preflight counted as a failure would have moved it
      expect(new Set(alone.lines.map(moved))).toEqual(new Set(["closed", "open", "half_open"]));
      const rest = both.lines.filter((_, i) => !preflight[i]);
      expect(rest).toEqual(alone.lines);
      both.lines.forEach((r, i) => {
        if (!preflight[i]) return;
        expect(r.variant, `line ${i + 1}`).toBeNull();
        expect(r.upstream).toBeNull();
        expect(r.setCookie).toBeNull();
        expect(r.breaker).toBeNull();   // the breaker took no part, open or not
        expect(r.action).toBe("forward");
        expect(r.status).toBe(204);     // the default upstream answered it
      });
      expect(both.metrics).toBe(alone.metrics);
      expect(both.metrics).toMatch(/^tandem_requests_total\{/m);
    }
  }, 120_000);

  it.skipIf(policy !== CANARY)("a new user's preflight gets no cookie; an OPTIONS without the header is an ordinary request", async () => {
    const t: TraceRequest[] = [
      { line: 1, t: 0, method: "OPTIONS", path: "/cart", headers: { "access-control-request-method": "PUT" }, upstream: { status: 204 } },
      { line: 2, t: 1, method: "OPTIONS", path: "/cart", headers: {}, upstream: { status: 204 } },
      // the header on another method: not a preflight
      { line: 3, t: 2, method: "GET", path: "/cart", headers: { "access-control-request-method": "PUT" }, upstream: ok },
    ];
    const res = await simulate("core", CANARY, t, () => {});
    expect(res[0]).toMatchObject({ variant: null, setCookie: null });
    expect(res[1].variant).not.toBeNull();
    expect(res[1].setCookie).not.toBeNull();
    expect(res[2].variant).not.toBeNull();
    for (const { via, profile } of PATHS) {
      const core = await simulate("core", CANARY, t, () => {}, { profile });
      expect(await simulate(via, CANARY, t, () => {}), via).toEqual(core);
    }
  }, 600_000);

  it.each(PATHS)("answers identically through core and $via, metrics included", async ({ via, profile }) => {
    const core = await run("core", policy, mixed, profile);
    const gw = await run(via, policy, mixed, profile);
    for (let i = 0; i < mixed.length; i++) expect(gw.lines[i], `${via}, line ${i + 1} ${mixed[i].method}`).toEqual(core.lines[i]);
    expect(gw.metrics).toBe(core.metrics);
  }, 600_000);
});
