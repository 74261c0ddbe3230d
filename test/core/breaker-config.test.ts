// Validation of spec.circuitBreaker and spec.fallback in the core: defaults, and the
// exact rejection text (field path, rule, bad value) both gateways print.
import { describe, expect, it } from "vitest";
import { BreakerCore } from "../support/breaker-core";

const core = BreakerCore.load();

const DEFAULTS = {
  key: "upstream",
  maxKeys: 1024,
  window: { type: "count", size: 100 },
  minimumCalls: 20,
  effectiveMinimumCalls: 20,
  failureRateThreshold: 50,
  slowCallDurationMs: 0,
  slowCallRateThreshold: 100,
  consecutiveFailures: 0,
  openDurationMs: 30000,
  openBackoff: { multiplier: 1, maxMs: 30000 },   // no backoff
  halfOpen: { permittedCalls: 3, maxWaitMs: 30000 },
  failure: { statuses: ["5xx"], ignoreStatuses: [], errors: ["connect", "reset", "timeout"], grpcStatuses: [4, 13, 14] },
  mode: "enforce",
  fallback: null,
};

describe("circuitBreaker config: defaults", () => {
  it("fills every default of issue 4 for an empty config", () => {
    expect(core.configure({})).toEqual(DEFAULTS);
    expect(core.configure({}, "breaker")).toEqual(DEFAULTS);
  });

  it("treats null fields and all-null records as absent (Kong's stored shape)", () => {
    const kong = {
      key: null, maxKeys: null, window: { type: null, size: null, sizeMs: null, buckets: null }, minimumCalls: null,
      failureRateThreshold: null, slowCallDurationMs: null, slowCallRateThreshold: null, consecutiveFailures: null,
      openDurationMs: null, openBackoff: { multiplier: null, maxMs: null }, halfOpen: { permittedCalls: null, maxWaitMs: null },
      failure: { statuses: null, ignoreStatuses: null, errors: null, grpcStatuses: null }, mode: null, fallback: null,
    };
    expect(core.configure(kong)).toEqual(DEFAULTS);
  });

  it("time window defaults: 10000 ms in 10 buckets of 1000 ms", () => {
    expect(core.configure({ window: { type: "time" } }).window).toEqual({ type: "time", sizeMs: 10000, buckets: 10, bucketMs: 1000 });
    expect(core.configure({ window: { type: "time", sizeMs: 60000, buckets: 60 } }).window).toEqual({ type: "time", sizeMs: 60000, buckets: 60, bucketMs: 1000 });
  });

  it("caps minimumCalls at a count window's size (resilience4j), not for time windows", () => {
    expect(core.configure({ window: { size: 10 } }).effectiveMinimumCalls).toBe(10);
    expect(core.configure({ window: { type: "time" }, minimumCalls: 500 }).effectiveMinimumCalls).toBe(500);
  });

  it("openBackoff: {} enables doubling up to 5 minutes (or openDurationMs when longer)", () => {
    expect(core.configure({ openBackoff: {} }).openBackoff).toEqual({ multiplier: 2, maxMs: 300000 });
    expect(core.configure({ openDurationMs: 400000, openBackoff: {} }).openBackoff).toEqual({ multiplier: 2, maxMs: 400000 });
    expect(core.configure({ openBackoff: { multiplier: 1.5, maxMs: 60000 } }).openBackoff).toEqual({ multiplier: 1.5, maxMs: 60000 });
  });

  it("normalizes keys, statuses and thresholds", () => {
    const s = core.configure({
      key: "header:X-Tenant", failureRateThreshold: 33.33, slowCallRateThreshold: 0.5,
      failure: { statuses: ["5XX", 429, "408"], ignoreStatuses: ["501"], errors: ["timeout"] },
    });
    expect(s.key).toBe("header:x-tenant");
    expect(s.failureRateThreshold).toBe(33.33);
    expect(s.slowCallRateThreshold).toBe(0.5);
    expect(s.failure).toEqual({ statuses: ["5xx", "429", "408"], ignoreStatuses: ["501"], errors: ["timeout"], grpcStatuses: [4, 13, 14] });
    expect(core.configure({ failure: { grpcStatuses: [2, 16, 0] } }).failure.grpcStatuses).toEqual([2, 16, 0]);
    expect(core.configure({ failure: { grpcStatuses: [] } }).failure.grpcStatuses).toEqual([]);
    expect(core.configure({ key: "route", mode: "dry_run" })).toMatchObject({ key: "route", mode: "dry_run" });
  });

  it("accepts the bounds themselves", () => {
    for (const cfg of [
      { failureRateThreshold: 0 }, { failureRateThreshold: 100 }, { window: { size: 1 } }, { window: { size: 10000 } },
      { window: { type: "time", sizeMs: 1, buckets: 1 } }, { window: { type: "time", sizeMs: 3600000, buckets: 1000 } },
      { halfOpen: { permittedCalls: 1 } }, { maxKeys: 1 }, { maxKeys: 65536 }, { failure: { statuses: [], errors: [] } },
      { openBackoff: { multiplier: 1, maxMs: 30000 } }, { mode: "forced_open" }, { mode: "forced_closed" },
    ]) expect(core.validate(cfg), JSON.stringify(cfg)).toBeNull();
  });
});

describe("circuitBreaker config: rejections", () => {
  const ALLOWED = "key, maxKeys, window, minimumCalls, failureRateThreshold, slowCallDurationMs, slowCallRateThreshold, " +
    "consecutiveFailures, openDurationMs, openBackoff, halfOpen, failure, mode";
  const cases: Array<[string, unknown, string]> = [
    ["not an object", [], "circuitBreaker: must be an object, got an array"],
    ["unknown field", { foo: 1 }, `circuitBreaker.foo: unknown field (allowed: ${ALLOWED}, fallback, policy, upstreamNames, hasFaults)`],
    // a key with a control character is quoted and escaped: the error stays one line (found by npm run fuzz)
    ["unknown field named by a newline", { "\n": "" }, `circuitBreaker["\\u000a"]: unknown field (allowed: ${ALLOWED}, fallback, policy, upstreamNames, hasFaults)`],
    ["unknown field with a CR inside", { "a\rb": 1 }, `circuitBreaker["a\\u000db"]: unknown field (allowed: ${ALLOWED}, fallback, policy, upstreamNames, hasFaults)`],
    ["threshold above 100", { failureRateThreshold: 101 }, "circuitBreaker.failureRateThreshold: must be between 0 and 100, got 101"],
    ["threshold below 0", { failureRateThreshold: -1 }, "circuitBreaker.failureRateThreshold: must be between 0 and 100, got -1"],
    ["threshold decimals", { failureRateThreshold: 33.333 }, "circuitBreaker.failureRateThreshold: must have at most 2 decimals, got 33.333"],
    ["threshold type", { failureRateThreshold: "50" }, "circuitBreaker.failureRateThreshold: must be a number, got \"50\""],
    ["slow threshold", { slowCallRateThreshold: 150 }, "circuitBreaker.slowCallRateThreshold: must be between 0 and 100, got 150"],
    ["window size 0", { window: { type: "count", size: 0 } }, "circuitBreaker.window.size: must be between 1 and 10000, got 0"],
    ["window size above 10000", { window: { size: 10001 } }, "circuitBreaker.window.size: must be between 1 and 10000, got 10001"],
    ["window size not integer", { window: { size: 1.5 } }, "circuitBreaker.window.size: must be an integer, got 1.5"],
    ["window type", { window: { type: "sliding" } }, "circuitBreaker.window.type: must be one of count, time, got \"sliding\""],
    ["count window with sizeMs", { window: { type: "count", sizeMs: 1000 } }, "circuitBreaker.window.sizeMs: applies only to window type time, got 1000"],
    ["time window with size", { window: { type: "time", size: 10 } }, "circuitBreaker.window.size: applies only to window type count, got 10"],
    ["time window sizeMs 0", { window: { type: "time", sizeMs: 0 } }, "circuitBreaker.window.sizeMs: must be between 1 and 3600000, got 0"],
    ["buckets 0", { window: { type: "time", buckets: 0 } }, "circuitBreaker.window.buckets: must be between 1 and 1000, got 0"],
    ["buckets not dividing", { window: { type: "time", sizeMs: 10000, buckets: 3 } }, "circuitBreaker.window.buckets: must divide window.sizeMs evenly, got 3"],
    ["window unknown field", { window: { kind: "count" } }, "circuitBreaker.window.kind: unknown field (allowed: type, size, sizeMs, buckets)"],
    ["minimumCalls 0", { minimumCalls: 0 }, "circuitBreaker.minimumCalls: must be between 1 and 1000000, got 0"],
    ["permittedCalls 0", { halfOpen: { permittedCalls: 0 } }, "circuitBreaker.halfOpen.permittedCalls: must be between 1 and 1000, got 0"],
    ["maxWaitMs 0", { halfOpen: { maxWaitMs: 0 } }, "circuitBreaker.halfOpen.maxWaitMs: must be between 1 and 86400000, got 0"],
    ["halfOpen unknown", { halfOpen: { permitted: 3 } }, "circuitBreaker.halfOpen.permitted: unknown field (allowed: permittedCalls, maxWaitMs)"],
    ["openDurationMs 0", { openDurationMs: 0 }, "circuitBreaker.openDurationMs: must be between 1 and 86400000, got 0"],
    ["multiplier below 1", { openBackoff: { multiplier: 0.5 } }, "circuitBreaker.openBackoff.multiplier: must be between 1 and 100, got 0.5"],
    ["backoff max below open", { openBackoff: { maxMs: 1000 } }, "circuitBreaker.openBackoff.maxMs: must be at least openDurationMs, got 1000"],
    ["slowCallDurationMs negative", { slowCallDurationMs: -5 }, "circuitBreaker.slowCallDurationMs: must be between 0 and 86400000, got -5"],
    ["consecutiveFailures negative", { consecutiveFailures: -1 }, "circuitBreaker.consecutiveFailures: must be between 0 and 10000, got -1"],
    ["unknown status class", { failure: { statuses: ["6xx"] } }, "circuitBreaker.failure.statuses[0]: must be a status code 100-599 or a class 1xx-5xx, got \"6xx\""],
    ["partial class", { failure: { statuses: ["5xx", "50x"] } }, "circuitBreaker.failure.statuses[1]: must be a status code 100-599 or a class 1xx-5xx, got \"50x\""],
    ["status number out of range", { failure: { statuses: [99] } }, "circuitBreaker.failure.statuses[0]: must be a status code 100-599 or a class 1xx-5xx, got 99"],
    ["status word", { failure: { ignoreStatuses: ["abc"] } }, "circuitBreaker.failure.ignoreStatuses[0]: must be a status code 100-599 or a class 1xx-5xx, got \"abc\""],
    ["duplicate status", { failure: { statuses: ["5xx", "5XX"] } }, "circuitBreaker.failure.statuses[1]: must be unique, got \"5XX\""],
    ["unknown error kind", { failure: { errors: ["dns"] } }, "circuitBreaker.failure.errors[0]: must be one of connect, reset, timeout, got \"dns\""],
    ["duplicate error kind", { failure: { errors: ["reset", "reset"] } }, "circuitBreaker.failure.errors[1]: must be unique, got \"reset\""],
    ["error kind type", { failure: { errors: [1] } }, "circuitBreaker.failure.errors[0]: must be a string, got 1"],
    ["gRPC status above 16", { failure: { grpcStatuses: [14, 17] } }, "circuitBreaker.failure.grpcStatuses[1]: must be a gRPC status code, an integer 0-16, got 17"],
    ["gRPC status as a string", { failure: { grpcStatuses: ["14"] } }, "circuitBreaker.failure.grpcStatuses[0]: must be a gRPC status code, an integer 0-16, got \"14\""],
    ["gRPC status not integer", { failure: { grpcStatuses: [1.5] } }, "circuitBreaker.failure.grpcStatuses[0]: must be a gRPC status code, an integer 0-16, got 1.5"],
    ["duplicate gRPC status", { failure: { grpcStatuses: [13, 13] } }, "circuitBreaker.failure.grpcStatuses[1]: must be unique, got 13"],
    ["statuses not array", { failure: { statuses: "5xx" } }, "circuitBreaker.failure.statuses: must be an array, got \"5xx\""],
    ["mode", { mode: "off" }, "circuitBreaker.mode: must be one of enforce, dry_run, forced_open, forced_closed, got \"off\""],
    ["key kind", { key: "cookie:x" }, "circuitBreaker.key: must be one of upstream, route, header:<name>, got \"cookie:x\""],
    ["key header empty", { key: "header:" }, "circuitBreaker.key: must be one of upstream, route, header:<name>, got \"header:\""],
    ["key header name", { key: "header:x tenant" }, "circuitBreaker.key: must be one of upstream, route, header:<name>, got \"header:x tenant\""],
    ["maxKeys 0", { maxKeys: 0 }, "circuitBreaker.maxKeys: must be between 1 and 65536, got 0"],
    ["maxKeys too many", { maxKeys: 65537 }, "circuitBreaker.maxKeys: must be between 1 and 65536, got 65537"],
  ];
  for (const [name, cfg, msg] of cases) {
    it(name, () => expect(core.validate(cfg)).toBe(msg));
  }

  it("spec.circuitBreaker alone does not take a fallback field", () => {
    expect(core.validate({ fallback: { respond: {} } }, "breaker")).toBe(`circuitBreaker.fallback: unknown field (allowed: ${ALLOWED})`);
  });

  it("reports invalid JSON", () => {
    expect(core.validate("{")).toMatch(/^configuration is not valid JSON: invalid JSON at offset 1: /);
  });
});

describe("fallback config", () => {
  it("respond defaults: 503, no body, no content type, Retry-After derived, on open", () => {
    expect(core.configure({ respond: {} }, "fallback")).toEqual({
      respond: { status: 503, headers: {}, bodyBytes: 0, contentType: "", retryAfter: true, grpcStatus: 14 }, on: ["open"],
    });
    expect(core.configure({ respond: { grpcStatus: 8 } }, "fallback").respond.grpcStatus).toBe(8);
    expect(core.configure({ fallback: { respond: { body: "down" } } }).fallback.respond.contentType).toBe("text/plain; charset=utf-8");
  });

  it("keeps a Retry-After the user set, lowercases header names", () => {
    const f = core.configure({ respond: { status: 429, headers: { "Retry-After": "120", "X-Fallback": "tandem" }, body: "{}", contentType: "application/json" }, on: ["open", "upstreamFailure"] }, "fallback");
    expect(f).toEqual({
      respond: { status: 429, headers: { "retry-after": "120", "x-fallback": "tandem" }, bodyBytes: 2, contentType: "application/json", retryAfter: false, grpcStatus: 14 },
      on: ["open", "upstreamFailure"],
    });
  });

  it("reroute to a variant or an upstream", () => {
    expect(core.configure({ reroute: { variant: "stable" } }, "fallback")).toEqual({ reroute: { variant: "stable" }, on: ["open"] });
    expect(core.configure({ reroute: { upstream: "api-v1.default.svc" }, on: ["upstreamFailure"] }, "fallback"))
      .toEqual({ reroute: { upstream: "api-v1.default.svc" }, on: ["upstreamFailure"] });
  });

  it("accepts a body of exactly 64 KiB", () => {
    expect(core.validate({ respond: { body: "a".repeat(65536) } }, "fallback")).toBeNull();
  });

  it("treats Kong's all-null records as absent", () => {
    expect(core.configure({ respond: { status: 502, headers: null, body: null, contentType: null }, reroute: { variant: null, upstream: null }, on: null }, "fallback"))
      .toEqual({ respond: { status: 502, headers: {}, bodyBytes: 0, contentType: "", retryAfter: true, grpcStatus: 14 }, on: ["open"] });
  });

  const cases: Array<[string, unknown, string]> = [
    ["not an object", 5, "fallback: must be an object, got 5"],
    ["neither respond nor reroute", {}, "fallback: must have exactly one of respond, reroute, cache"],
    ["both", { respond: {}, reroute: { variant: "stable" } }, "fallback: must have exactly one of respond, reroute, cache"],
    ["unknown field", { respond: {}, when: "open" }, "fallback.when: unknown field (allowed: respond, reroute, cache, on)"],
    ["status below 100", { respond: { status: 99 } }, "fallback.respond.status: must be between 100 and 599, got 99"],
    ["status above 599", { respond: { status: 600 } }, "fallback.respond.status: must be between 100 and 599, got 600"],
    ["body above 64 KiB", { respond: { body: "a".repeat(65537) } }, "fallback.respond.body: must be at most 65536 bytes (UTF-8), got 65537 bytes"],
    ["body above 64 KiB in UTF-8", { respond: { body: "é".repeat(32769) } }, "fallback.respond.body: must be at most 65536 bytes (UTF-8), got 65538 bytes"],
    ["body type", { respond: { body: 5 } }, "fallback.respond.body: must be a string, got 5"],
    ["header name", { respond: { headers: { "x a": "1" } } }, "fallback.respond.headers: must be an HTTP header name (token characters, at most 128), got \"x a\""],
    ["framing header", { respond: { headers: { "Content-Length": "5" } } }, "fallback.respond.headers.Content-Length: is set by the gateway"],
    ["hop-by-hop header", { respond: { headers: { connection: "close" } } }, "fallback.respond.headers.connection: is set by the gateway"],
    ["content-type header", { respond: { headers: { "content-type": "text/html" } } }, "fallback.respond.headers.content-type: must be set with respond.contentType"],
    ["header value with newline", { respond: { headers: { "x-a": "a\nb" } } }, "fallback.respond.headers.x-a: must be a header value (no control characters, at most 8192), got \"a\\u000ab\""],
    ["header value type", { respond: { headers: { "x-a": 1 } } }, "fallback.respond.headers.x-a: must be a string, got 1"],
    ["duplicate header", { respond: { headers: { "X-A": "1", "x-a": "2" } } }, "fallback.respond.headers.x-a: must be unique (header names ignore case)"],
    ["headers not object", { respond: { headers: [] } }, "fallback.respond.headers: must be an object, got an array"],
    ["empty content type", { respond: { contentType: "" } }, "fallback.respond.contentType: must be a header value (no control characters, at most 8192), got \"\""],
    ["respond unknown field", { respond: { code: 503 } }, "fallback.respond.code: unknown field (allowed: status, headers, body, contentType, grpcStatus)"],
    ["respond grpcStatus above 16", { respond: { grpcStatus: 17 } }, "fallback.respond.grpcStatus: must be between 0 and 16, got 17"],
    ["reroute without target", { reroute: {} }, "fallback.reroute: must have exactly one of variant, upstream"],
    ["reroute with both targets", { reroute: { variant: "a", upstream: "b" } }, "fallback.reroute: must have exactly one of variant, upstream"],
    ["reroute variant name", { reroute: { variant: "bad name" } }, "fallback.reroute.variant: must match [A-Za-z0-9._-]{1,64}, got \"bad name\""],
    ["reroute upstream name", { reroute: { upstream: "has space" } }, "fallback.reroute.upstream: must be 1-256 characters without spaces or control characters, got \"has space\""],
    ["on empty", { respond: {}, on: [] }, "fallback.on: must not be empty"],
    ["on unknown", { respond: {}, on: ["close"] }, "fallback.on[0]: must be one of open, upstreamFailure, got \"close\""],
    ["on duplicate", { respond: {}, on: ["open", "open"] }, "fallback.on[1]: must be unique, got \"open\""],
  ];
  for (const [name, cfg, msg] of cases) {
    it(name, () => {
      expect(core.validate(cfg, "fallback")).toBe(msg);
      // Same text through the plugin config (circuitBreaker fields + fallback).
      expect(core.validate({ fallback: cfg })).toBe(msg);
    });
  }
});
