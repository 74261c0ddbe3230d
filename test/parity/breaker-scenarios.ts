// Breaker parity scenarios: policies with a circuit breaker and traces that drive it
// through failures, timeouts, refused connections, slow calls, openings, half-open
// probes and recoveries, on virtual time.
import type { PolicyDoc } from "../../cli/policy-file";
import type { TraceRequest, TraceUpstream } from "../../cli/simulate/trace";
import { loadCore } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";
import { rng } from "../support/rng";

export interface BreakerScenario { name: string; policy: PolicyDoc; trace: TraceRequest[] }


function doc(name: string, spec: PolicyDoc["spec"]): PolicyDoc {
  return { apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name }, spec };
}

const ok = (latencyMs = 5): TraceUpstream => ({ status: 200, latencyMs });
const fail = (status = 503, latencyMs = 5): TraceUpstream => ({ status, latencyMs });

const EXPERIMENT = {
  name: "checkout-v2",
  stickiness: { sources: ["header:x-user-id"] },
  variants: [{ name: "stable", weight: 70, upstream: "api-v1" }, { name: "canary", weight: 30, upstream: "api-v2" }],
};

// The variant each user lands in, from the core (the traces make canary users fail).
function variantsOf(users: string[]): Map<string, string> {
  const core = loadCore();
  const plan = core.configureExperiment(JSON.stringify(EXPERIMENT));
  const out = new Map<string, string>();
  for (const u of users) {
    const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers: { "x-user-id": u, host: "localhost" } }), 0);
    out.set(u, plan.variants[d.variant].name);
  }
  core.release(plan);
  return out;
}

export function breakerScenarios(): BreakerScenario[] {
  const out: BreakerScenario[] = [];

  // 1. A canary that breaks and heals, keyed by variant, answered by a fallback.
  {
    const r = rng(11);
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const variant = variantsOf(users);
    const trace: TraceRequest[] = [];
    let t = 0;
    for (let i = 0; i < 260; i++) {
      t += Math.floor(r() * 60);
      const u = users[Math.floor(r() * users.length)];
      const canary = variant.get(u) === "canary";
      // canary fails from 2 s to 9 s, stable is flaky at 2%
      let up = ok(Math.floor(r() * 20));
      if (canary && t >= 2000 && t < 9000) up = r() < 0.8 ? fail(r() < 0.5 ? 500 : 503) : ok();
      else if (!canary && r() < 0.02) up = fail(500);
      trace.push({ line: i + 1, t, method: r() < 0.9 ? "GET" : "POST", path: "/api/cart", headers: { "x-user-id": u }, upstream: up });
    }
    out.push({
      name: "canary breaks and heals (key upstream, respond fallback)",
      policy: doc("canary-heal", {
        experiment: EXPERIMENT,
        circuitBreaker: { key: "upstream", window: { type: "count", size: 20 }, minimumCalls: 8, failureRateThreshold: 50, openDurationMs: 1500, halfOpen: { permittedCalls: 3, maxWaitMs: 5000 } },
        fallback: { respond: { status: 503, headers: { "x-fallback": "tandem" }, body: "{\"error\":\"try later\"}", contentType: "application/json" } },
      }),
      trace,
    });
  }

  // 2. Tenants on a time window: timeouts, refused connections and resets, slow calls.
  {
    const r = rng(22);
    const tenants = ["acme", "globex", "initech", "umbrella"];
    const trace: TraceRequest[] = [];
    let t = 0;
    let timeouts = 0;
    for (let i = 0; i < 240; i++) {
      t += 10 + Math.floor(r() * 40);
      const tenant = tenants[Math.floor(r() * tenants.length)];
      let up: TraceUpstream = ok(Math.floor(r() * 30));
      const bad = (tenant === "acme" && t > 1500 && t < 5000) || (tenant === "initech" && t > 3000 && t < 4500);
      if (bad) {
        const x = r();
        if (x < 0.25) up = { error: "connect" };
        else if (x < 0.45) up = { error: "reset" };
        else if (x < 0.55 && timeouts < 8) { up = { error: "timeout", latencyMs: 250 }; timeouts++; }
        else if (x < 0.8) up = fail(502);
        else up = ok(400);                                   // slow
      }
      const headers: Record<string, string> = { "x-tenant": tenant };
      if (r() < 0.05) delete headers["x-tenant"];            // no tenant: the empty key
      trace.push({ line: i + 1, t, method: "GET", path: "/v1/orders", headers, upstream: up });
    }
    out.push({
      name: "tenants on a time window (header key, transport errors, slow calls, no fallback)",
      policy: doc("tenants", {
        circuitBreaker: {
          key: "header:x-tenant", window: { type: "time", sizeMs: 2000, buckets: 4 }, minimumCalls: 6, failureRateThreshold: 40,
          slowCallDurationMs: 300, slowCallRateThreshold: 60, openDurationMs: 800, halfOpen: { permittedCalls: 2, maxWaitMs: 1000 },
          failure: { statuses: ["5xx"], ignoreStatuses: [501], errors: ["connect", "reset", "timeout"] },
        },
      }),
      trace,
    });
  }

  // 3. One route, consecutive failures, failing probes with backoff, reroute to a spare upstream.
  {
    const r = rng(33);
    const trace: TraceRequest[] = [];
    let t = 0;
    for (let i = 0; i < 220; i++) {
      t += 20 + Math.floor(r() * 80);
      let up: TraceUpstream = ok();
      if ((t > 1000 && t < 6000) || (t > 9000 && t < 9800)) up = r() < 0.9 ? fail(r() < 0.3 ? 504 : 500) : ok();
      trace.push({ line: i + 1, t, method: "GET", path: "/", headers: {}, upstream: up });
    }
    out.push({
      name: "route key, consecutive failures, backoff, reroute to a spare upstream",
      policy: doc("spare", {
        circuitBreaker: {
          key: "route", consecutiveFailures: 3, minimumCalls: 50, openDurationMs: 500, openBackoff: { multiplier: 2, maxMs: 2000 },
          halfOpen: { permittedCalls: 2, maxWaitMs: 3000 },
        },
        fallback: { reroute: { upstream: "api-spare" } },
      }),
      trace,
    });
  }

  // 4. The same canary in dry_run: never rejects, reports the state enforce would have.
  {
    const base = out[0];
    out.push({
      name: "dry_run (reports, never rejects)",
      policy: doc("dry", { ...base.policy.spec, circuitBreaker: { ...(base.policy.spec.circuitBreaker as object), mode: "dry_run" } }),
      trace: base.trace,
    });
  }

  // 5. Reroute to the stable variant when the canary's breaker is open.
  {
    const base = out[0];
    out.push({
      name: "reroute to the stable variant",
      policy: doc("reroute-variant", { ...base.policy.spec, fallback: { reroute: { variant: "stable" } } }),
      trace: base.trace,
    });
  }
  // 6. fallback.on [open, upstreamFailure]: the upstream refuses, resets, times out or
  // answers 5xx. On Envoy the fallback replaces the failed answer of an idempotent call
  // (an upstream 5xx, or Envoy's own 503/504 local reply: sendDirectLocalReply), and the
  // experiment's Set-Cookie for a new user is not sent with it; on Kong the gateway's
  // 502/504 goes through. POSTs are never replaced.
  {
    const r = rng(66);
    const trace: TraceRequest[] = [];
    let t = 0;
    let timeouts = 0;
    for (let i = 0; i < 200; i++) {
      t += 20 + Math.floor(r() * 40);
      let up: TraceUpstream = ok(Math.floor(r() * 10));
      if ((t > 1000 && t < 3500) || (t > 5500 && t < 6500)) {
        const x = r();
        if (x < 0.25) up = { error: "connect" };
        else if (x < 0.5) up = { error: "reset" };
        else if (x < 0.6 && timeouts < 6) { up = { error: "timeout", latencyMs: 250 }; timeouts++; }
        else if (x < 0.85) up = fail(r() < 0.5 ? 500 : 503);
      }
      // a new user now and then (no cookie, no x-user-id: the experiment issues a cookie)
      const headers: Record<string, string> = r() < 0.2 ? { "x-request-id": `rid-${i}` } : { "x-user-id": `user-${Math.floor(r() * 30)}` };
      trace.push({ line: i + 1, t, method: r() < 0.8 ? "GET" : "POST", path: "/api/cart", headers, upstream: up });
    }
    out.push({
      name: "fallback on upstream failure (refused, reset, timeout, 5xx; GET and POST; new users)",
      policy: doc("on-failure", {
        experiment: { ...EXPERIMENT, stickiness: { sources: ["cookie:uid", "header:x-user-id"], cookie: { name: "uid" } } },
        circuitBreaker: {
          key: "route", window: { type: "count", size: 10 }, minimumCalls: 5, failureRateThreshold: 50, openDurationMs: 400,
          halfOpen: { permittedCalls: 2, maxWaitMs: 2000 }, failure: { statuses: ["5xx"], errors: ["connect", "reset", "timeout"] },
        },
        fallback: { respond: { status: 200, headers: { "x-fallback": "tandem" }, body: "cached" }, on: ["open", "upstreamFailure"] },
      }),
      trace,
    });
  }
  return out;
}
