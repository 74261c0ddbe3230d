// Kong plugin `circuit-breaker`: spec.circuitBreaker + spec.fallback. Thin: the core
// keys, admits, counts and picks the answer (wasm/core/breaker/runtime.ts); this file
// moves Kong facts in and applies the core's effects (wasm/core/contract.ts EFFECT_*:
// track, cache first, reroute, reply) with Kong's calls.
//
// State: one Breaker per Kong plugin (route) in module scope of the plugin server
// process, shared by all Kong workers, outliving plugin instances (Kong restarts them
// on every config change anywhere): a new instance with the same config keeps the
// states; a changed config starts fresh; a rejected one keeps the last good config.
//
// RPC round trips (HandleEvent included):
//   access  1 + get_headers (every request: the key's header, Access-Control-Request-
//           Method, which makes an OPTIONS a CORS preflight, and Upgrade / Accept, which
//           keep a long-lived request from probing a half-open breaker; key `route` paid
//           none before preflights were told apart)
//           a request with Access-Control-Request-Method: + get_method (is it a
//           preflight?); a preflight passes untouched: 3, nothing carried to log
//           admitted and tracked: + set_serialize_value (the admission, for log) = 3
//           rejected: + exit, which pdk.js sends without awaiting an answer = 2
//           rerouted: + set_upstream [+ set_header] = 3-4 (unknown Upstream: + exit)
//   log     1 + serialize = 2: status, tries and latency from Kong's own figures
//           (./outcome.ts); the admission comes back in serialize's `tandem.breaker`.
// Why set_serialize_value and not kong.ctx.shared: both cost one call in access, but
// ctx.shared costs a get in log too (3), while serialize is read anyway; and no
// module-scope map keyed by the request works without a call: nothing that access
// sees for free (the headers) is unique to a request, and Kong's request id is not in
// the headers. The field also tells log plugins which breaker key admitted a call.
// Never a `response` phase (it would make Kong buffer every response). So on Kong the
// fallback answers rejections only: `fallback.on: [upstreamFailure]` cannot replace
// an upstream's answer without buffering, and is not applied (a notice says so).
// A cache fallback (cache.on: open) is served from the opt-in `fallback-cache` plugin's
// entries: on such a rejection, + ctx.shared.get (the carry that plugin's access left,
// ../shared/cache-carry.ts) = 3 round trips; a carry with an answer is the exit, none
// means the next fallback. The breaker exits either way: a rejected call never goes on
// to the upstream, whether the cache plugin is there or not. A reroute also clears the
// carry (+ ctx.shared.set), so the spare upstream's answer is not stored under the key.
import { randomBytes } from "node:crypto";
import { answerNeeds } from "../../core-js/answer-needs";
import { fallbackForm } from "./fallback-form";
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { ConfigKeeper } from "../shared/config-keeper";
import {
  type BreakerCall, type BreakerPlan, type BreakerReply, type BreakerStateName,
  callAdmitted, callEffects, callFlags, callNeedsMethod, callPreflight, callTransition, outcomeStatus,
} from "../../core-js/tandem-core";
import { outcomeOf } from "../shared/outcome";
import { CACHE_CARRY_FIELD, exitHeaders, readCarry } from "../shared/cache-carry";
import { traceOn, writeTrace, type TraceAction } from "./trace";
import {
  EFFECT_CACHE_FIRST, EFFECT_REPLY, EFFECT_REROUTE, EFFECT_TRACK, GRPC_CONTENT_TYPE, GRPC_MESSAGE_HEADER, GRPC_STATUS_HEADER,
  REPLY_REJECT, REPLY_RESPOND, VARIANT_HEADER, breakerReply,
} from "../../core-js/tandem-core";
import { ANSWER_FALLBACK, ANSWER_HEADER } from "../../wasm/core/metrics/catalog";

import { PLUGIN_BREAKER as PLUGIN } from "../../wasm/core/metrics/catalog";
import { kongMetrics } from "../shared/metrics";
import { outcomeLedger } from "../shared/dropped";
import { KeyLabels } from "../../core-js/metrics";
export { Schema } from "./schema";
export const Version = "0.1.0";
export const Priority = 790;   // right after `experiment` (800), which sets the variant and upstream

// Where the admission travels from access to log (kong.log.set_serialize_value): log
// plugins (http-log, file-log, ...) also see which breaker key admitted the call.
export const CARRY_FIELD = "tandem.breaker";
const MAX_HEADERS = 1000;

type BreakerPDK = KongPDK & {
  log: KongPDK["log"] & { setSerializeValue(key: string, value: unknown): Promise<unknown> };
  ctx: { shared: { get(k: string): Promise<unknown>; set(k: string, v: unknown): Promise<unknown> } };
};

interface Answer { status: number; body: string; headers: Record<string, string>; grpc: Answer | null }

interface Configured {
  token: string;                 // names this configuration in the carried admission
  canon: string;                 // the config, canonical: same text -> same breaker
  plan: BreakerPlan;
  answers: Answer[];             // the core's local replies by REPLY_*, ready to send
  keyLabels: KeyLabels;          // metrics: at most maxKeys distinct key labels, then "other"
  cacheAny: boolean;             // the fallback list has a cache (a reroute clears the carry)
}

// `call`: the core's ticket for the admission (TandemCore.recordCall: no key lookup);
// `ticket`: the outcome ledger's (../shared/outcome-ledger.ts).
interface Carry { config: string; key: string; flags: number; generation: number; call?: number; ticket?: number }

// Per Kong plugin id and per token (../core/config-keeper.ts).
const configs = new ConfigKeeper<Configured>((c) => getCore().releaseBreaker(c.plan), PLUGIN);

// `grpc`: the answer to a gRPC request, shaped as Envoy shapes a filter's local reply
// (wasm/core/request/grpc.ts): a headers-only 200, content-type application/grpc, the
// core's grpc-status and grpc-message. Kong's own conversion (pdk/response.lua send)
// would keep the HTTP status and map it otherwise (503 -> 14, but 502 -> 13), so the
// plugin sets the gRPC headers itself; with a content-type of application/grpc and no
// body, kong.response.exit sends them as they are (content-length 0).
// Every answer carries the answer header (x-tandem-answer: fallback), which the
// experiment plugin's log phase reads in serialize's response headers for
// tandem_requests_total's reason (wasm/core/metrics/catalog.ts ANSWER_HEADER): part of
// the exit, no extra RPC.
function answerOf(r: BreakerReply): Answer {
  const headers: Record<string, string> = { ...r.headers, [ANSWER_HEADER]: ANSWER_FALLBACK };
  if (r.contentType !== "") headers["content-type"] = r.contentType;
  const gh: Record<string, string> = { ...r.headers, [ANSWER_HEADER]: ANSWER_FALLBACK, "content-type": GRPC_CONTENT_TYPE, [GRPC_STATUS_HEADER]: String(r.grpcStatus) };
  if (r.grpcMessage !== "") gh[GRPC_MESSAGE_HEADER] = r.grpcMessage;
  const grpc: Answer = { status: 200, body: "", headers: gh, grpc: null };
  return { status: r.status, body: r.body, headers, grpc };
}

function build(plan: BreakerPlan, canon: string, token: string): Configured {
  const f = plan.fallback;
  const c: Configured = {
    token, canon, plan, keyLabels: new KeyLabels(Number(plan.settings.maxKeys)), cacheAny: f?.cache !== undefined,
    answers: f?.kind === "respond" ? [answerOf(plan.reject), answerOf(breakerReply(plan, REPLY_RESPOND))] : [answerOf(plan.reject)],
  };
  kongMetrics()?.declarePlugin(PLUGIN, plan.policy);   // dropped outcomes at zero (core-js/metrics.ts)
  if (f?.cache) kongMetrics()?.declareCache(plan.policy);   // cache lookups at zero, as the Envoy filter's CacheStats
  if (f?.onUpstreamFailure) {
    process.stderr.write("tandem: circuit-breaker: fallback.on upstreamFailure is not applied on Kong " +
      "(a plugin-server plugin cannot replace an upstream's answer without buffering); rejections only\n");
  }
  const r = plan.reroute;
  if (r !== null && r.variant !== null && r.upstream === null) {
    process.stderr.write(`tandem: circuit-breaker: variantUpstreams has no Upstream for variant ${JSON.stringify(r.variant)}: ` +
      "a reroute sets the variant header and keeps the request's upstream\n");
  }
  return c;
}

// The core reads Kong's `variantUpstreams` with the rest (a reroute's upstream:
// wasm/core/breaker/reroute.ts).
function configure(config: Record<string, unknown>): Configured {
  return configs.fromKong(config, (json, canon, token) =>
    build(getCore().configureBreaker(json, randomBytes(4).readUInt32LE(0)), canon, token), fallbackForm);
}

// `r`: the core's lastCall (read before any await) or a BreakerCall.
function transition(c: Configured, key: string, r: Pick<BreakerCall, "transition" | "prevState" | "state">): void {
  if (r.transition === null) return;
  kongMetrics()?.breakerTransition(c.plan.policy, c.keyLabels.label(key), r.prevState, r.state);
  process.stderr.write(`tandem: circuit-breaker ${JSON.stringify(key)} ${r.prevState} -> ${r.state} (${r.transition})\n`);
}

// `seconds`: the core's Retry-After for this reply (-1: none).
function withRetryAfter(a: Answer, seconds: number): Record<string, string> {
  return seconds < 0 ? a.headers : { ...a.headers, "retry-after": String(seconds) };
}

// set_upstream's first return value: true, or nil for an unknown Upstream.
const upstreamSet = (ret: unknown) => ret !== undefined && ret !== null && ret !== false;

export class Plugin {
  private readonly c: Configured;

  constructor(config: Record<string, unknown>) {
    this.c = configure(config);
  }

  async access(kong: BreakerPDK): Promise<void> {
    const c = this.c;
    const plan = c.plan;
    // The headers on every request: the breaker always needs Access-Control-Request-Method
    // (a CORS preflight?) and Upgrade / Accept (a long-lived request never probes a
    // half-open breaker here: wasm/core/request/long-lived.ts). Outcomes come in `log`,
    // when the request ended: "end".
    const headers = await kong.request.getHeaders(MAX_HEADERS);
    // The core's lean admission (core-js/breaker-call.ts): one integer; the rest is read
    // from core.lastCall before this request awaits anything (another request's call
    // replaces it).
    const core = getCore();
    let a = core.admitCall(plan, answerNeeds(plan.needs, { headers }), Date.now(), "end");
    if (callNeedsMethod(a)) {
      // the core asks whether this is a CORS preflight (wasm/core/request/preflight.ts)
      const facts = answerNeeds(plan.needs, { headers, method: await kong.request.getMethod() });
      a = core.admitCall(plan, facts, Date.now(), "end");
    }
    // A CORS preflight: not admitted, never counted, in every mode.
    if (callPreflight(a)) return report("forward", null);
    const last = core.lastCall;
    const key = last.key;
    const state = last.state;
    if (callTransition(a)) transition(c, key, last);
    if (!callAdmitted(a)) kongMetrics()?.breakerRejection(plan.policy, c.keyLabels.label(key));
    // The core's effects (wasm/core/contract.ts EFFECT_*), applied in order.
    const e = callEffects(a);
    if ((e & EFFECT_TRACK) !== 0) {
      // ticket: the log phase returns it; one that never comes counts as dropped (../shared/outcome-ledger.ts)
      const carry: Carry = { config: c.token, key, flags: callFlags(a), generation: last.generation, call: last.ticket, ticket: outcomeLedger(PLUGIN).take(plan.policy, Date.now()) };
      await kong.log.setSerializeValue(CARRY_FIELD, carry);
      return;
    }
    const reply = last.reply;
    const replyRetryAfter = last.replyRetryAfter;
    if ((e & EFFECT_CACHE_FIRST) !== 0) {
      const carry = readCarry(await kong.ctx.shared.get(CACHE_CARRY_FIELD), plan.policy);
      const hit = carry?.hit;
      kongMetrics()?.cacheLookup(plan.policy, hit !== undefined);
      if (hit) {
        report("fallback", state);
        // (the core's served headers carry x-tandem-answer already: wasm/core/cache/entry.ts)
        return kong.response.exit(hit.status, Buffer.from(hit.body, "base64") as unknown as string, exitHeaders(hit.headers)) as Promise<void>;
      }
    }
    if ((e & EFFECT_REROUTE) !== 0) {
      const r = plan.reroute!;
      if (r.upstream === null || upstreamSet(await kong.service.setUpstream(r.upstream))) {
        if (r.variant !== null) await kong.service.request.setHeader(VARIANT_HEADER, r.variant);
        if (c.cacheAny) await kong.ctx.shared.set(CACHE_CARRY_FIELD, null);
        report("fallback", state);
        return;
      }
      // An Upstream Kong does not know: the core's reply for it (the default rejection).
    } else if ((e & EFFECT_REPLY) === 0) return report("forward", state);
    report(reply === REPLY_REJECT ? "reject" : "fallback", state);
    return exit(kong, c.answers[reply], headers, replyRetryAfter);
  }

  async log(kong: BreakerPDK): Promise<void> {
    const s = JSON.parse(await kong.log.serialize() as unknown as string) as Record<string, unknown>;
    const carry = (s.tandem as { breaker?: Carry } | undefined)?.breaker;
    if (carry) outcomeLedger(PLUGIN).settle(carry.ticket, Date.now());
    if (!carry || typeof carry.key !== "string") return;
    const c = configs.byTokenOf(carry.config);
    if (!c) return;                      // admitted under a configuration since replaced
    const core = getCore();
    const o = outcomeOf(s, core);
    // by the admission's ticket; by the key only if it was evicted meanwhile (a carry
    // without a ticket: the key's stale-ticket path)
    core.recordCall(c.plan, typeof carry.call === "number" ? carry.call : -1, carry.flags, carry.generation,
      outcomeStatus(o), o.error ?? 0, o.latencyMs, Date.now(), carry.key);
    const last = core.lastCall;
    if (last.transition !== null) transition(c, carry.key, last);
    report("forward", last.state);
  }
}

// Answers a rejected call; a gRPC request gets the gRPC shape. Its content-type comes
// from the headers access already read, else from one get_header (rejections only).
async function exit(kong: BreakerPDK, ans: Answer, headers: Record<string, string | string[]> | null, retryAfter: number): Promise<void> {
  let ct: string | string[] | undefined | null = headers === null ? await kong.request.getHeader("content-type") : headers["content-type"];
  if (Array.isArray(ct)) ct = ct[0];
  const a = getCore().isGrpc(ct) && ans.grpc !== null ? ans.grpc : ans;
  return kong.response.exit(a.status, a.body === "" && a !== ans ? undefined : a.body, withRetryAfter(a, retryAfter)) as Promise<void>;
}

// state null: the breaker took no part (a CORS preflight): no state to report.
function report(action: TraceAction, state: BreakerStateName | null): void {
  if (traceOn()) writeTrace({ action, state });
}
