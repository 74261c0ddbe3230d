// The circuit-breaker ABI of dist/wasm/tandem-core.wasm (wasm/core/api.ts,
// wasm/core/breaker/runtime.ts) through core-js/tandem-core.ts: what the Kong
// plugin and `tandem simulate --via core` use.
import { describe, expect, it } from "vitest";
import {
  BreakerAnswer, BreakerError, CoreError, EFFECT_CACHE_FIRST, EFFECT_REPLY, EFFECT_REROUTE, EFFECT_RESPOND, EFFECT_TRACK, FactKind,
  REPLY_REJECT, REPLY_RESPOND, type BreakerCall, type TandemCore,
} from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const core: TandemCore = loadCore();

function policy(spec: Record<string, unknown>) {
  return JSON.stringify({ apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "t" }, spec });
}

function configError(config: unknown): string {
  try {
    core.configureBreaker(JSON.stringify(config));
  } catch (e) {
    expect(e).toBeInstanceOf(CoreError);
    return (e as Error).message;
  }
  return "";
}

describe("breaker ABI: configure", () => {
  // Every breaker reads Access-Control-Request-Method, and the method on demand: a CORS
  // preflight passes untouched (wasm/core/request/preflight.ts).
  const PREFLIGHT_NEEDS = [{ kind: FactKind.Header, name: "access-control-request-method" }, { kind: FactKind.Method, name: "on-demand" }];
  const LONG_LIVED_NEEDS = [{ kind: FactKind.Header, name: "upgrade" }, { kind: FactKind.Header, name: "accept" }];

  it("returns a plan: key, needs, mode, the fallback ready to send, the default rejection", () => {
    const p = core.configureBreaker(JSON.stringify({
      key: "header:X-Tenant", mode: "dry_run",
      fallback: { respond: { status: 429, headers: { "X-Why": "breaker \"open\"" }, body: "zu — viel\n\u0001", contentType: "text/plain" } },
    }));
    expect(p.key).toBe("header:x-tenant");
    expect(p.mode).toBe("dry_run");
    expect(p.records).toBe(true);
    // the key's needs and the preflight test's first (keyNeeds), then those telling a
    // long-lived request
    expect(p.keyNeeds).toBe(3);
    expect(p.needs).toEqual([{ kind: FactKind.Header, name: "x-tenant" }, ...PREFLIGHT_NEEDS, ...LONG_LIVED_NEEDS]);
    expect(p.fallback).toEqual({
      kind: "respond", status: 429, headers: { "x-why": "breaker \"open\"" }, body: "zu — viel\n\u0001", contentType: "text/plain",
      retryAfter: true, grpcStatus: 14, grpcMessage: "zu %E2%80%94 viel%0A%01", variant: null, upstream: null, onOpen: true, onUpstreamFailure: false,
    });
    expect(p.reject).toEqual({
      status: 503, headers: {}, body: "circuit breaker open", contentType: "text/plain; charset=utf-8", retryAfter: true,
      grpcStatus: 14, grpcMessage: "circuit breaker open",
    });
    expect(p.settings).toMatchObject({ key: "header:x-tenant", minimumCalls: 20, window: { type: "count", size: 100 } });
    core.releaseBreaker(p);

    const u = core.configureBreaker("{}");
    expect(u.keyNeeds).toBe(4);
    expect(u.needs).toEqual([{ kind: FactKind.Header, name: "x-tandem-variant" }, { kind: FactKind.Host, name: "" }, ...PREFLIGHT_NEEDS, ...LONG_LIVED_NEEDS]);
    expect(u.fallback).toBeNull();
    core.releaseBreaker(u);
    const r = core.configureBreaker(JSON.stringify({ key: "route", mode: "forced_closed", fallback: { reroute: { upstream: "api-v1" }, on: ["open", "upstreamFailure"] } }));
    expect(r.keyNeeds).toBe(2);
    expect(r.needs).toEqual([...PREFLIGHT_NEEDS, ...LONG_LIVED_NEEDS]);
    expect(r.records).toBe(false);
    expect(r.fallback).toEqual({ kind: "reroute", variant: null, upstream: "api-v1", onOpen: true, onUpstreamFailure: true });
    core.releaseBreaker(r);
  });

  it("carries a 64 KiB body of quotes intact, in linear time", () => {
    const body = "\"\\".repeat(32768);
    const json = JSON.stringify({ fallback: { respond: { body } } });
    let t0 = performance.now();
    expect(core.validateBreaker(json)).toBeNull();
    const parse = performance.now() - t0;
    t0 = performance.now();
    const p = core.configureBreaker(json);
    // the plan (a JSON string of the body) costs little beyond parsing the config
    expect(performance.now() - t0).toBeLessThan(4 * parse + 500);   // quadratic would be seconds
    expect(p.fallback!.body).toBe(body);
    expect(p.fallback!.retryAfter).toBe(true);
    core.releaseBreaker(p);
    expect(configError({ fallback: { respond: { body: body + "x" } } })).toBe("fallback.respond.body: must be at most 65536 bytes (UTF-8), got 65537 bytes");
  });

  it("rejects what tandem validate rejects, with the same text", () => {
    const cases: Array<[Record<string, unknown> | undefined, Record<string, unknown> | undefined]> = [
      [{ failureRateThreshold: 101 }, undefined],
      [{ window: { type: "count", size: 0 } }, undefined],
      [{ window: { size: 10001 } }, undefined],
      [{ halfOpen: { permittedCalls: 0 } }, undefined],
      [{ failure: { statuses: ["6xx"] } }, undefined],
      [{ key: "tenant" }, undefined],
      [{ mode: "off" }, { respond: { status: 503 } }],
      [undefined, { respond: { body: "x".repeat(65537) } }],
      [undefined, { respond: {}, reroute: { variant: "stable" } }],
      [{ minimumCalls: 10 }, { respond: { headers: { "Transfer-Encoding": "chunked" } } }],
    ];
    for (const [cb, fb] of cases) {
      const msg = core.validatePolicy(policy({ ...(cb ? { circuitBreaker: cb } : {}), ...(fb ? { fallback: fb } : {}) }));
      expect(msg, JSON.stringify([cb, fb])).not.toBeNull();
      expect(configError({ ...(cb ?? {}), ...(fb ? { fallback: fb } : {}) })).toBe(msg);
      expect(core.validateBreaker(JSON.stringify({ ...(cb ?? {}), ...(fb ? { fallback: fb } : {}) }))).toBe(msg);
    }
    expect(configError("nope")).toBe("circuitBreaker: must be an object, got \"nope\"");
    expect(core.validatePolicy(policy({ fallback: { respond: {} } }))).toBeNull();
    expect(core.validatePolicy(policy({ circuitBreaker: {}, fallback: { respond: { status: 503 } } }))).toBeNull();
  });

  it("validate checks a variant reroute against the experiment (a gateway cannot)", () => {
    const experiment = { name: "e", variants: [{ name: "stable", weight: 100 }] };
    expect(core.validatePolicy(policy({ experiment, fallback: { reroute: { variant: "stable" } } }))).toBeNull();
    expect(core.validatePolicy(policy({ experiment, fallback: { reroute: { variant: "canary" } } })))
      .toBe("fallback.reroute.variant: must name one of the experiment's variants, got \"canary\"");
    expect(core.validatePolicy(policy({ fallback: { reroute: { variant: "stable" } } })))
      .toBe("fallback.reroute.variant: must name one of the experiment's variants, got \"stable\"");
  });
});

// A reroute's effects are resolved by the core (wasm/core/breaker/reroute.ts): the
// variant header to set and the upstream to choose (null: keep the request's), the
// upstream of a variant from Kong's `variantUpstreams`, which the core reads and checks.
describe("breaker ABI: reroute", () => {
  const vu = { stable: "api-v1", canary: "api-v2" };
  it("to a variant: its header and, with variantUpstreams, its upstream", () => {
    expect(core.configureBreaker(JSON.stringify({ fallback: { reroute: { variant: "stable" } }, variantUpstreams: vu })).reroute)
      .toEqual({ variant: "stable", upstream: "api-v1" });
    // Envoy's copy carries no variantUpstreams (the route on the header picks it); Kong's
    // with no Upstream for the variant keeps the request's
    expect(core.configureBreaker(JSON.stringify({ fallback: { reroute: { variant: "stable" } } })).reroute)
      .toEqual({ variant: "stable", upstream: null });
    expect(core.configureBreaker(JSON.stringify({ fallback: { reroute: { variant: "stable" } }, variantUpstreams: { canary: "api-v2" } })).reroute)
      .toEqual({ variant: "stable", upstream: null });
    expect(core.configureBreaker(JSON.stringify({ fallback: { reroute: { variant: "stable" } }, variantUpstreams: null })).reroute)
      .toEqual({ variant: "stable", upstream: null });
  });

  it("to an upstream: no header, that upstream; no reroute fallback: null", () => {
    expect(core.configureBreaker(JSON.stringify({ fallback: [{ reroute: { upstream: "spare" } }], variantUpstreams: vu })).reroute)
      .toEqual({ variant: null, upstream: "spare" });
    expect(core.configureBreaker(JSON.stringify({ fallback: { respond: {} }, variantUpstreams: vu })).reroute).toBeNull();
    expect(core.configureBreaker(JSON.stringify({ key: "route" })).reroute).toBeNull();
  });

  it("variantUpstreams is checked in the core, named by its field path", () => {
    expect(configError({ variantUpstreams: ["api-v1"] })).toBe("variantUpstreams: must be an object, got an array");
    expect(configError({ variantUpstreams: { stable: 1 } })).toBe("variantUpstreams.stable: must be a string, got 1");
    expect(configError({ variantUpstreams: { stable: "a b" } })).toMatch(/^variantUpstreams\.stable: must be 1-256 characters/);
    expect(core.validateBreaker(JSON.stringify({ variantUpstreams: vu }))).toBeNull();
  });
});

// The request step's effects (wasm/core/contract.ts EFFECT_*): what the adapters apply
// without deciding (the Kong plugin, simulate --via core; the Envoy filter through the
// same core function).
describe("breaker ABI: effects", () => {
  const cfg = { key: "route", consecutiveFailures: 1, openDurationMs: 5000 };
  // Drives the breaker open, then admits once more: the rejection's effects.
  function rejected(extra: Record<string, unknown>): BreakerCall {
    const p = core.configureBreaker(JSON.stringify({ ...cfg, ...extra }));
    const a = core.admitBreaker(p, [], 0, "end");
    core.recordBreaker(p, "", a.flags, a.generation, { status: 500, latencyMs: 1 }, 1);
    const r = core.admitBreaker(p, [], 1000, "end");
    core.releaseBreaker(p);
    return r;
  }

  it("an admitted call is tracked when outcomes count; forced modes and dry_run's would-rejects are not", () => {
    const p = core.configureBreaker(JSON.stringify(cfg));
    expect(core.admitBreaker(p, [], 0, "end")).toMatchObject({ admitted: true, effects: EFFECT_TRACK, replyRetryAfter: -1 });
    core.releaseBreaker(p);
    const fc = core.configureBreaker(JSON.stringify({ ...cfg, mode: "forced_closed" }));
    expect(core.admitBreaker(fc, [], 0, "end")).toMatchObject({ admitted: true, effects: 0 });
    core.releaseBreaker(fc);
    expect(rejected({ mode: "dry_run" })).toMatchObject({ admitted: true, permitted: false, effects: 0 });
  });

  it("a rejection: the default reply with Retry-After, the respond fallback's (with its own Retry-After rule), the reroute, the cache first", () => {
    expect(rejected({})).toMatchObject({ admitted: false, effects: EFFECT_REPLY, reply: REPLY_REJECT, replyRetryAfter: 5 });
    expect(rejected({ fallback: { respond: { status: 429 } } })).toMatchObject({ effects: EFFECT_REPLY | EFFECT_RESPOND, reply: REPLY_RESPOND, replyRetryAfter: 5 });
    // a respond that sets its own retry-after header takes no seconds
    expect(rejected({ fallback: { respond: { status: 429, headers: { "retry-after": "60" } } } })).toMatchObject({ reply: REPLY_RESPOND, replyRetryAfter: -1 });
    // fallback.on without open: the default reply
    expect(rejected({ fallback: { respond: { status: 429 }, on: ["upstreamFailure"] } })).toMatchObject({ effects: EFFECT_REPLY, reply: REPLY_REJECT });
    // a reroute; should the gateway fail to make it, the default reply with its Retry-After
    expect(rejected({ fallback: { reroute: { upstream: "spare" } } })).toMatchObject({ effects: EFFECT_REROUTE, reply: REPLY_REJECT, replyRetryAfter: 5 });
    expect(rejected({ fallback: [{ cache: {} }, { respond: { status: 429 } }] })).toMatchObject({ effects: EFFECT_CACHE_FIRST | EFFECT_REPLY | EFFECT_RESPOND });
    expect(rejected({ fallback: [{ cache: {}, on: ["upstreamFailure"] }, { respond: { status: 429 } }] })).toMatchObject({ effects: EFFECT_REPLY | EFFECT_RESPOND });
  });
});

describe("breaker ABI: CORS preflights", () => {
  it("pass untouched in every state: asked for the method only with the header, never admitted or counted", () => {
    const b = core.configureBreaker(JSON.stringify({ key: "route", window: { type: "count", size: 10 }, minimumCalls: 2, failureRateThreshold: 50, openDurationMs: 1000 }));
    // facts: [access-control-request-method, method (on demand)]
    const pre = ["POST", "OPTIONS"];
    expect(core.admitBreaker(b, ["POST", undefined], 0)).toMatchObject({ pass: "method", permitted: false });
    expect(core.admitBreaker(b, pre, 0)).toMatchObject({ pass: "preflight", admitted: true, permitted: false, state: "closed", transition: null });
    expect(core.admitBreaker(b, ["POST", "GET"], 0).pass).toBeUndefined();        // the header on a GET: an ordinary call
    expect(core.admitBreaker(b, [undefined, "OPTIONS"], 0).pass).toBeUndefined();  // OPTIONS without it: an ordinary call
    expect(core.admitBreaker(b, ["POST", "options"], 0).pass).toBeUndefined();     // methods are case-sensitive
    // two failures open it; a preflight still passes, and changes nothing
    for (let i = 0; i < 2; i++) {
      const a = core.admitBreaker(b, [undefined, undefined], 10 + i);
      core.recordBreaker(b, a.key, a.flags, a.generation, { status: 503, latencyMs: 1 }, 11 + i);
    }
    expect(core.breakerState(b, "")).toBe("open");
    const before = core.describeBreakerState(b, "");
    expect(core.admitBreaker(b, pre, 20)).toMatchObject({ pass: "preflight", admitted: true, state: "open" });
    expect(core.admitBreaker(b, pre, 5000)).toMatchObject({ pass: "preflight", state: "open" });   // no time-driven change either
    expect(core.describeBreakerState(b, "")).toEqual(before);
    expect(core.admitBreaker(b, [undefined, undefined], 5000).state).toBe("half_open");   // an ordinary call moves it
    core.releaseBreaker(b);
  });
});

describe("breaker ABI: keys", () => {
  it("upstream: the variant header when non-empty, else the Host; header:<n>: its value; route: one key", () => {
    const u = core.configureBreaker("{}");
    expect(core.admitBreaker(u, ["canary", "shop.example.com"], 0).key).toBe("canary");
    expect(core.admitBreaker(u, ["", "shop.example.com:8080"], 0).key).toBe("shop.example.com:8080");
    expect(core.admitBreaker(u, [undefined, "shop.example.com"], 0).key).toBe("shop.example.com");
    expect(core.admitBreaker(u, [undefined, undefined], 0).key).toBe("");
    expect(core.admitBreaker(u, ["日本", "h"], 0).key).toBe("日本");
    const h = core.configureBreaker(JSON.stringify({ key: "header:x-tenant" }));
    expect(core.admitBreaker(h, ["acme"], 0).key).toBe("acme");
    expect(core.admitBreaker(h, [""], 0).key).toBe("");
    expect(core.admitBreaker(h, [undefined], 0).key).toBe("");
    const r = core.configureBreaker(JSON.stringify({ key: "route" }));
    expect(core.admitBreaker(r, [], 0).key).toBe("");
    for (const p of [u, h, r]) core.releaseBreaker(p);
  });

  it("upstream with upstreamNames: a named variant counts under its upstream, so variants sharing one share a breaker", () => {
    const u = core.configureBreaker(JSON.stringify({ minimumCalls: 1, failureRateThreshold: 50, upstreamNames: { canary: "api-v2", beta: "api-v2", stable: "api-v1" } }));
    expect(core.admitBreaker(u, ["canary", "h"], 0).key).toBe("api-v2");
    expect(core.admitBreaker(u, ["stable", "h"], 0).key).toBe("api-v1");
    expect(core.admitBreaker(u, ["other", "h"], 0).key).toBe("other");      // not named: its own name
    expect(core.admitBreaker(u, ["", "h"], 0).key).toBe("h");                // no variant: the Host
    const a = core.admitBreaker(u, ["canary", "h"], 0);
    core.recordBreaker(u, a.key, a.flags, a.generation, { status: 500, latencyMs: 1 }, 1);
    expect(core.admitBreaker(u, ["beta", "h"], 2)).toMatchObject({ key: "api-v2", admitted: false });
    expect(core.admitBreaker(u, ["stable", "h"], 2)).toMatchObject({ key: "api-v1", admitted: true });
    core.releaseBreaker(u);
  });

  it("upstreamNames is checked with field paths (the plan writes it; a hand-written config may not)", () => {
    expect(core.validateBreaker(JSON.stringify({ upstreamNames: ["api-v1"] }))).toBe("circuitBreaker.upstreamNames: must be an object, got an array");
    expect(core.validateBreaker(JSON.stringify({ upstreamNames: { canary: 2 } }))).toBe("circuitBreaker.upstreamNames.canary: must be a string, got 2");
    expect(core.validateBreaker(JSON.stringify({ upstreamNames: { canary: "api v2" } })))
      .toBe("circuitBreaker.upstreamNames.canary: must be 1-256 characters without spaces or control characters, got \"api v2\"");
    expect(core.validateBreaker(JSON.stringify({ upstreamNames: { canary: "api-v2" } }))).toBeNull();
  });
});

describe("breaker ABI: allow and record", () => {
  const cfg = { minimumCalls: 2, window: { size: 4 }, openDurationMs: 2000, halfOpen: { permittedCalls: 1 } };

  it("reports transitions, the state after each call, Retry-After and what answers", () => {
    const p = core.configureBreaker(JSON.stringify({ ...cfg, fallback: { respond: { status: 503 } } }));
    let a = core.allowBreaker(p, "k", 0);
    expect(a).toMatchObject({ admitted: true, permitted: true, state: "closed", transition: null, retryAfter: -1 });
    let r = core.recordBreaker(p, "k", a.flags, a.generation, { status: 500, latencyMs: 1 }, 1);
    expect(r).toMatchObject({ outcome: 1, state: "closed", transition: null });
    a = core.allowBreaker(p, "k", 2);
    r = core.recordBreaker(p, "k", a.flags, a.generation, { status: 502, latencyMs: 1 }, 3);
    expect(r).toMatchObject({ outcome: 1, prevState: "closed", state: "open", transition: "failure_rate" });
    a = core.allowBreaker(p, "k", 503);
    expect(a).toMatchObject({ admitted: false, state: "open", retryAfter: 2, answer: BreakerAnswer.Respond, transition: null });
    expect(core.breakerState(p, "k")).toBe("open");
    a = core.allowBreaker(p, "k", 2003);
    expect(a).toMatchObject({ admitted: true, state: "half_open", prevState: "open", transition: "open_elapsed" });
    const b = core.allowBreaker(p, "k", 2004);
    expect(b).toMatchObject({ admitted: false, state: "half_open", retryAfter: 1, answer: BreakerAnswer.Respond });
    r = core.recordBreaker(p, "k", a.flags, a.generation, { status: 200, latencyMs: 1 }, 2005);
    expect(r).toMatchObject({ outcome: 0, prevState: "half_open", state: "closed", transition: "probes_passed" });
    expect(core.describeBreakerState(p, "k")).toMatchObject({ state: "CLOSED", reason: "probes_passed", calls: 0 });
    expect(core.breakerState(p, "never")).toBeNull();
    expect(core.describeBreakerState(p, "never")).toBeNull();
    core.releaseBreaker(p);
  });

  it("answers a rejection by the fallback only when it applies on open", () => {
    const open = (fallback?: unknown) => {
      const p = core.configureBreaker(JSON.stringify({ ...cfg, mode: "forced_open", ...(fallback ? { fallback } : {}) }));
      const a = core.allowBreaker(p, "k", 0);
      core.releaseBreaker(p);
      return a;
    };
    expect(open()).toMatchObject({ admitted: false, answer: BreakerAnswer.Reject, retryAfter: -1 });
    expect(open({ respond: {} }).answer).toBe(BreakerAnswer.Respond);
    expect(open({ reroute: { variant: "stable" } }).answer).toBe(BreakerAnswer.Reroute);
    expect(open({ respond: {}, on: ["upstreamFailure"] }).answer).toBe(BreakerAnswer.Reject);
  });

  it("counts connectOrReset (Kong's 502) as a failure when either kind is listed", () => {
    for (const [errors, outcome] of [[["connect"], 1], [["reset"], 1], [["timeout"], 2], [["connect", "reset"], 1]] as const) {
      const p = core.configureBreaker(JSON.stringify({ failure: { errors } }));
      const a = core.allowBreaker(p, "k", 0);
      expect(core.recordBreaker(p, "k", a.flags, a.generation, { error: BreakerError.connectOrReset, latencyMs: 0 }, 0).outcome, errors.join()).toBe(outcome);
      core.releaseBreaker(p);
    }
  });

  it("keeps handles apart and reuses released ones", () => {
    const a = core.configureBreaker(JSON.stringify({ ...cfg, consecutiveFailures: 1 }));
    const b = core.configureBreaker(JSON.stringify(cfg));
    const x = core.allowBreaker(a, "k", 0);
    core.recordBreaker(a, "k", x.flags, x.generation, { status: 500, latencyMs: 0 }, 0);
    expect(core.breakerState(a, "k")).toBe("open");
    expect(core.breakerState(b, "k")).toBeNull();
    core.releaseBreaker(a);
    const c = core.configureBreaker("{}");
    expect(c.handle).toBe(a.handle);
    expect(core.breakerState(c, "k")).toBeNull();
    core.releaseBreaker(b);
    core.releaseBreaker(c);
  });

  it("a record for a key evicted meanwhile changes nothing", () => {
    const p = core.configureBreaker(JSON.stringify({ maxKeys: 1, consecutiveFailures: 1 }));
    const a = core.allowBreaker(p, "k1", 0);
    core.allowBreaker(p, "k2", 0);                          // evicts k1
    expect(core.recordBreaker(p, "k1", a.flags, a.generation, { status: 500, latencyMs: 0 }, 0).outcome).toBe(-1);
    expect(core.breakerState(p, "k1")).toBeNull();
    core.releaseBreaker(p);
  });
});
