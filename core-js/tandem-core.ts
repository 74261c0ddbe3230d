// Node loader for the policy core (tandem-core.wasm): the same AssemblyScript core the
// Envoy filter links, compiled as a standalone module. This file only moves bytes:
// UTF-8 in through the core's arena, decisions and error text out.
import { readFileSync } from "node:fs";
import { decodePairs, encodePairs, type HeaderPair } from "./pairs";
export type { HeaderPair } from "./pairs";
import {
  ADMITTED, ERROR_CONNECT, ERROR_CONNECT_OR_RESET, ERROR_NONE, ERROR_RESET, ERROR_TIMEOUT, Fact, FallbackKind,
  G_FLAGS, G_GENERATION, G_GUARD, G_REASON, G_STATE, G_TRACKED, G_TRANSITION,
  PERMITTED, PROBE, NEEDS_FACTS, PROBES_AT_HEADERS, FACTS_READ, REASON_GUARD, REASON_OVERRIDE, REASON_RAMP, REASON_RULE0, REASON_SPLIT,
  OUTCOME_KEY_GONE, OUTCOME_TICKET_STALE, REPLY_REJECT, REPLY_RESPOND,
  F_ABORT_STATUS, F_DELAY_MS, F_FAULT, F_NEEDS_ENTROPY, F_REASON, F_STRIP, GRPC_STATUS_BASE, GRPC_STATUS_MAX,
  D_COOKIE_LEN, D_EXPOSE_LEN, D_LOG, D_REASON, D_STRIP, D_TAGS_LEN, D_TEXT, FACT_ASK,
} from "../wasm/core/contract";
import { STATE_NAMES, TRANSITION_NAMES } from "../wasm/core/contract-names";
import { BreakerCallView, callNeedsMethod, callPreflight } from "./breaker-call";
export * from "./breaker-call";
import { DecisionView } from "./decision-view";
export { DecisionView } from "./decision-view";

// The contract (slots, enums, fact kinds, reasons, header names) is declared once, in
// wasm/core/contract.ts, a file both compilers read; this binding re-exports it.
export * from "../wasm/core/contract";
export { Fact as FactKind };

export interface Need { kind: Fact; name: string }
export interface VariantInfo { name: string; upstream: string | null }
// A policy variant in the plan (wasm/core/plan.ts): its weight in percent, whether a canary guard watches it.
export interface PlanKeySource { kind: "cookie" | "header" | "query" | "ip"; name: string }
export interface PlanVariant extends VariantInfo { weight: number; guarded: boolean }
export interface ExperimentPlan {
  handle: number;
  policy: string;              // the config's policy name (metrics label; wasm/core/metrics)
  name: string;                // the experiment's name (metrics label)
  metrics: boolean;            // the config's `metrics` switch (false: record nothing)
  hasFaults: boolean;          // the config's `hasFaults` (false: no fault-injection part shares the policy)
  decisionLogBp: number;       // decisionLog.percent in basis points (0: no decision log)
  variantHeader: string;
  overrideHeader: string | null;  // QA override header: always stripped from the request
  expose: boolean;             // add the x-tandem-decision response header
  clock: boolean;              // decisions depend on now (a time-based rollout, canary guards)
  cookie: string | null;       // name of the sticky cookie tandem issues, if any
  variants: VariantInfo[];
  sources: string[];           // stickiness.sources as the core reads them (the default: cookie:tandem-uid)
  sourceKinds: number[];       // their kinds (metrics' source label: wasm/core/metrics/catalog.ts sourceLabelIndex)
  guards: GuardInfo[];         // canary guards, by guard index
  needs: Need[];
  tags: TagInfo[];             // tagging experiments (spec.experiments); []: none
}
// A canary guard: on variant index `variant`, users go to variant index `to` while open.
export interface GuardInfo { variant: number; to: number; mode: "enforce" | "dry_run" | "forced_open" | "forced_closed" }
// The guard a decision consulted (wasm/core/api.ts G_* slots).
export interface GuardAdmission {
  index: number;              // into plan.guards
  flags: number;              // hand back with the outcome ...
  generation: number;         // ... when tracked
  state: BreakerStateName;    // the guard's state after admitting
  tracked: boolean;           // record the outcome (recordGuard)
}
export interface GuardRecord { state: BreakerStateName; transition: string | null; outcome: number }
export interface ExperimentDecision {
  variant: number;            // -1: out of the experiment's scope
  setCookie: string | null;
  reason: number;             // 0 split, 1 ramp, 2 override, 3 guard, 4 + i rule i
  stripOverride: boolean;     // the request carried the override header
  expose: string | null;      // x-tandem-decision response header value
  guard: GuardAdmission | null; // the canary guard consulted, if the variant has one
  tags: string | null;        // x-tandem-experiments value (plan.tags non-empty, in scope)
  log: number;                // decision log: 0 not sampled, 1 sampled, 2 needs the request id (logSampled)
}

export interface TagInfo { name: string; variants: string[] }
// A tagging experiment's assignment: its variant, the reason (split, ramp, rule i as
// for the experiment), the bucket (-1: a rule's fixed variant).
export interface TagAssignment { name: string; variant: string; reason: number; bucket: number }
// REASON_* of the contract: rule i is RULE_REASON0 + i.
export const GUARD_REASON = REASON_GUARD;
export const RULE_REASON0 = REASON_RULE0;

export function reasonName(r: number): string {
  return r === REASON_SPLIT ? "split" : r === REASON_RAMP ? "ramp" : r === REASON_OVERRIDE ? "override" : r === REASON_GUARD ? "guard" : `rule:${r - REASON_RULE0}`;
}

// ---- circuit-breaker (wasm/core/breaker/runtime.ts) ----
export type BreakerStateName = "closed" | "open" | "half_open";
export const BREAKER_STATES = STATE_NAMES as readonly BreakerStateName[];
export const BREAKER_REASONS: readonly string[] = TRANSITION_NAMES;
// ERROR_* of the contract, plus connectOrReset: a transport failure the gateway reports
// without telling which (Kong/nginx: 502); a failure if either is listed.
export const BreakerError = {
  none: ERROR_NONE, connect: ERROR_CONNECT, reset: ERROR_RESET, timeout: ERROR_TIMEOUT, connectOrReset: ERROR_CONNECT_OR_RESET,
} as const;
export const BREAKER_ADMITTED = ADMITTED;

// What an adapter saw of a call: the HTTP status (0: none), the transport error
// (BreakerError), and for a gRPC reply its grpc-status (absent / null: not gRPC).
export interface CallOutcome { status?: number; error?: number; latencyMs: number; grpcStatus?: number | null }

// The status record() gets: a gRPC reply as GRPC_STATUS_BASE + grpc-status (the core
// classifies it by failure.grpcStatuses), anything else as its HTTP status.
export function outcomeStatus(o: CallOutcome): number {
  const g = o.grpcStatus;
  if (typeof g === "number" && Number.isInteger(g) && g >= 0 && g <= GRPC_STATUS_MAX) return GRPC_STATUS_BASE + g;
  return o.status ?? 0;
}
export const BREAKER_PERMITTED = PERMITTED;
export const BREAKER_PROBE = PROBE;
// How an adapter learns a call's outcome (admitBreaker): wasm/core/contract.ts.
export type Probing = "headers" | "end" | "end-unread";
// (compares of constant strings, not a keyed property load per call)
const probingBits = (p: Probing): number => (p === "headers" ? PROBES_AT_HEADERS : p === "end" ? FACTS_READ : 0);
// What answers a rejected call: FallbackKind of the contract (None: the default reject).
export const BreakerAnswer = { Reject: FallbackKind.None, Respond: FallbackKind.Respond, Reroute: FallbackKind.Reroute } as const;
export type BreakerAnswer = FallbackKind;

export interface BreakerReply {
  status: number;
  headers: Record<string, string>;   // lowercase names; no Retry-After (added per rejection)
  body: string;
  contentType: string;               // "" = none
  retryAfter: boolean;               // add Retry-After: <seconds> when the core knows them
  grpcStatus: number;                // to a gRPC request (isGrpc): a trailers-only 200 with this grpc-status
  grpcMessage: string;               // ... and this grpc-message ("" none): the body, percent-encoded
}
// The cache fallback's settings with defaults (wasm/core/cache/describe.ts).
export interface CachePlan {
  methods: string[]; maxEntries: number; maxBodyBytes: number; ttlMs: number; varyHeaders: string[];
  statuses: number[]; cacheAuthorized: boolean; on: Array<"open" | "upstreamFailure">;
}
export interface BreakerFallbackPlan extends Partial<BreakerReply> {
  kind: "respond" | "reroute" | "none";   // none: the list holds only a cache
  variant: string | null;            // reroute: to this variant (x-tandem-variant) ...
  upstream: string | null;           // ... or to this upstream
  onOpen: boolean;
  onUpstreamFailure: boolean;
  field?: string | null;             // the policy plan's only: the respond/reroute item's path (fallback, fallback[i])
  cache?: CachePlan;                 // with a cache fallback: asked first for the cases cache.on names
}
// The cache fallback through the core (cacheKey, cacheLookup, cacheStore).
export const CACHE_KEY_WHY = ["", "method", "authorization", "too long"] as const;
export const CACHE_STORE_REASONS = ["stored", "status", "no-store", "private", "no-cache", "set-cookie", "vary", "too-large", "no-lifetime", "headers"] as const;
export interface CacheAnswer { status: number; headers: HeaderPair[]; body: Buffer }
export interface CacheStats { entries: number; entryBytes: number; indexBytes: number; hits: number; misses: number; stores: number; evictions: number }
export interface BreakerPlan {
  handle: number;
  policy: string;                    // the config's policy name (metrics label)
  key: string;                       // upstream | route | header:<name>
  mode: "enforce" | "dry_run" | "forced_open" | "forced_closed";
  needs: Need[];                     // request facts the key derives from, then those telling a long-lived request
  keyNeeds: number;                  // how many of needs (the first) the key takes
  records: boolean;                  // false in forced modes: outcomes change nothing
  fallback: BreakerFallbackPlan | null;
  reroute: BreakerReroute | null;    // what a reroute fallback does, resolved by the core
  reject: BreakerReply;              // the answer to a rejection no fallback takes
  settings: Record<string, unknown>; // the settings with defaults, for reports
}
// The local reply REPLY_* `reply` of a breaker plan (BreakerCall.reply).
export function breakerReply(plan: BreakerPlan, reply: number): BreakerReply {
  return reply === REPLY_RESPOND ? plan.fallback as BreakerReply : plan.reject;
}
// A reroute's effects (wasm/core/breaker/reroute.ts): set x-tandem-variant to `variant`
// (null: leave it), choose `upstream` (null: keep the request's). Kong: set_upstream.
export interface BreakerReroute { variant: string | null; upstream: string | null }
export interface BreakerCall {
  flags: number;                     // BREAKER_ADMITTED | BREAKER_PERMITTED | BREAKER_PROBE
  admitted: boolean;
  permitted: boolean;
  needsFacts: boolean;               // admitBreaker "end-unread": read the headers, admit again
  generation: number;
  state: BreakerStateName;           // the key's state after the call
  prevState: BreakerStateName;
  transition: string | null;         // the reason, when this call changed the state
  retryAfter: number;                // rejections: Retry-After seconds, -1 = none
  answer: BreakerAnswer;             // rejections: what answers
  outcome: number;                   // record: 0 success, 1 failure, 2 ignored, -1 key gone
  // The request step's effects (wasm/core/contract.ts EFFECT_*), for the adapter to
  // apply: track, cache first, reroute (plan.reroute), reply (breakerReply(plan, reply)
  // with Retry-After replyRetryAfter seconds, -1 none). 0: forward untouched.
  effects: number;
  reply: number;                     // REPLY_* (the reject's unless EFFECT_RESPOND)
  replyRetryAfter: number;
}
// `pass`: the breaker lets the request pass untouched, not admitted and never counted:
//   "preflight"  a CORS preflight (wasm/core/request/preflight.ts): `admitted` true,
//                `permitted` false, `state` the key's stored state (nothing applied)
//   "method"     it carries Access-Control-Request-Method and `facts` lack the method
//                (an on-demand need): admit again with it
export interface BreakerAdmission extends BreakerCall { key: string; pass?: "preflight" | "method" }

// A whole policy compiled by the core (wasm/core/plan.ts): what each part's plugin is
// configured with on each gateway, and the policy facts adapters and reports need.
export type PartName = "experiment" | "circuit-breaker" | "fault-injection";
export interface PolicyPart {
  plugin: PartName;                  // Kong plugin name = Envoy root id
  config: Record<string, unknown>;   // the plugin config, as the Envoy filter reads it
  kong: Record<string, unknown>;     // the same for Kong's schema
  enabled: boolean;                  // false: the part does nothing (fault-injection, no fault enabled, no control header)
}
export interface PolicyPlan {
  name: string;
  parts: PolicyPart[];               // in chain order: experiment, circuit-breaker, fault-injection
  variantHeader: string | null;      // lowercase; null without an experiment
  overrideHeader: string | null;
  expose: boolean;
  variants: PlanVariant[];
  faults: { count: number; enabled: boolean } | null;   // spec.faults: how many, all enabled
  sources: PlanKeySource[];          // the experiment's key sources in order (defaults applied); [] without one
  scope: { hosts: string[]; pathPrefixes: string[] };   // empty lists: every request
  taggingExperiments: number;        // how many spec.experiments
  breakerKey: string | null;         // upstream | route | header:<name>; null without a breaker
  fallback: BreakerFallbackPlan | null;
  reject: BreakerReply;
  // What render writes around the plugins (wasm/core/plan-deploy.ts), defaults filled in.
  upstreams: UpstreamTarget[];       // every upstream routed to, in order of first mention
  resilience: ResiliencePlan;
  secrets: Array<{ field: string; name: string; value: string }>;
  warnings: string[];                // tandem validate's warnings (wasm/core/plan-warnings.ts)
}
// An upstream's per-gateway names: Kong Upstream, Istio subset and pod labels (null:
// render's --subset-label = the subset), the backend's host and port.
export interface UpstreamTarget { name: string; kong: string; subset: string; labels: Record<string, string> | null; host: string; port: number }
export interface ResiliencePlan {
  retries?: { attempts: number; perTryTimeoutMs?: number; retryOn: string[] };
  timeoutMs?: number;
  pool?: { maxConnections?: number; maxPendingRequests?: number; maxRequests?: number; maxRequestsPerConnection?: number };
  outlier?: { consecutiveErrors: number; intervalMs: number; baseEjectionTimeMs: number; maxEjectionPercent: number };
}
// ---- fault injection (wasm/core/fault) ----
export interface FaultReply { body: string; contentType: string; headers: Record<string, string> }
export interface FaultInfo {
  name: string; scope: "gateway" | "upstream"; by: "request" | "user";
  delayMs: number | null; delayPercent: number; abortStatus: number | null; abortPercent: number;
  maxActive: number | null; reply: FaultReply | null;
}
export interface FaultPlan { handle: number; policy: string; clock: boolean; upstream: boolean; faults: FaultInfo[]; strip: string[]; needs: Need[] }
// Why fault i did not apply / how it did (wasm/core/fault/fault.ts WHY_*).
export const FAULT_WHY = ["not reached", "disabled", "outside its schedule", "match does not hold", "another variant", "coin lost", "maxActive delays in flight", "coin won", "control header"] as const;
export const FAULT_WHY_PERCENT = 7;
export const FAULT_WHY_HEADER = 8;
export interface FaultDecision {
  fault: number;              // index into plan.faults, -1 none
  delayMs: number | null;
  abortStatus: number | null;
  reason: number;             // FAULT_WHY index
  strip: boolean;             // remove the control header(s) plan.strip
  needsEntropy: boolean;      // decide again with the request id
}
export interface FaultTrace { why: number; delayBucket: number; abortBucket: number }

// A breaker plan's fact buffer (its address and room) and the facts last written there
// (n of them; -1 while being written), `off` the next free offset.
// `version`: this core's number for that write (the core derives the key from one write once).
// Facts written into the core's memory for a call: `vals` the facts, `table` their fact
// table (i32 index), `base` where their bytes start and `off` the next free offset after
// them (a fact the core asks for, FACT_ASK, is written there: askedFact). A breaker plan
// keeps its own (its buffer `cap` bytes, `n` facts of the binding's write `version`);
// experiments and faults share one, rewritten per call.
interface WrittenFacts { vals: Array<string | undefined>; table: number; base: number; off: number; cap: number; n: number; version: number }

interface CoreExports {
  memory: WebAssembly.Memory;
  tandem_policy_plan(len: number): number;
  _initialize?: () => void;
  tandem_arena(size: number): number;
  tandem_arena_size(): number;
  tandem_out_ptr(): number;
  tandem_out_len(): number;
  tandem_validate_policy(len: number): number;
  tandem_breaker_validate(len: number): number;
  tandem_breaker_configure(len: number, seed: number): number;
  tandem_breaker_release(h: number): void;
  tandem_breaker_fact_table(h: number): number;
  tandem_breaker_result_ptr(): number;
  tandem_breaker_admit(h: number, nowMs: number, probing: number, version: number): number;
  tandem_breaker_facts(h: number, size: number): number;
  tandem_breaker_record_ticket(h: number, ticket: number, flags: number, generation: number, status: number, error: number, latencyMs: number, nowMs: number): number;
  tandem_breaker_allow(h: number, keyLen: number, nowMs: number, probing: number): number;
  tandem_breaker_record(h: number, keyLen: number, flags: number, generation: number, status: number, error: number, latencyMs: number, nowMs: number): number;
  tandem_breaker_state(h: number, keyLen: number): number;
  tandem_breaker_on_outcome(h: number, outcome: number, methodLen: number): number;
  tandem_is_grpc(len: number): number;
  tandem_request_latency(firstTryStartMs: number, lastTryStartMs: number, lastTryMs: number): number;
  tandem_breaker_describe_state(h: number, keyLen: number): number;
  tandem_cache_result_ptr(): number;
  tandem_cache_key(h: number): number;
  tandem_cache_why(): number;
  tandem_cache_lookup(h: number, keyLen: number, nowMs: number, use: number): number;
  tandem_cache_check(h: number, status: number, headersLen: number): number;
  tandem_cache_store(h: number, keyLen: number, status: number, headersLen: number, bodyLen: number, nowMs: number): number;
  tandem_cache_stats(h: number): number;
  tandem_experiment_configure(len: number): number;
  tandem_release(h: number): void;
  tandem_fact_table(h: number): number;
  tandem_experiment_result_ptr(): number;
  tandem_experiment_decide(h: number, nowMs: number, probing: number): number;
  tandem_experiment_bucket(h: number): number;
  tandem_experiment_key_source(h: number): number;
  tandem_log_sampled(h: number, len: number): number;
  tandem_decision_line(h: number, variant: number, reason: number, source: number, answeredBy: number, status: number, latencyMs: number, idLen: number): number;
  tandem_experiment_guard_result_ptr(): number;
  tandem_experiment_guard_record(h: number, g: number, flags: number, generation: number, status: number, error: number, latencyMs: number, nowMs: number): number;
  tandem_experiment_guard_describe(h: number, g: number): number;
  tandem_experiment_tag_variant(h: number, i: number): number;
  tandem_experiment_tag_reason(h: number, i: number): number;
  tandem_experiment_tag_bucket(h: number, i: number): number;
  tandem_fault_configure(len: number): number;
  tandem_fault_release(h: number): void;
  tandem_fault_fact_table(h: number): number;
  tandem_fault_result_ptr(): number;
  tandem_fault_decide(h: number, nowMs: number): number;
  tandem_fault_why(h: number, i: number): number;
  tandem_fault_delay_bucket(h: number, i: number): number;
  tandem_fault_abort_bucket(h: number, i: number): number;
  tandem_fault_active(h: number, i: number, delta: number): number;
}

export class CoreError extends Error {}

// Strings up to this many UTF-16 units are encoded / decoded by a JavaScript loop when
// they are ASCII: TextEncoder.encodeInto and TextDecoder.decode cost a native call
// (hundreds of ns) that a short loop does not. Anything else goes through them.
const SHORT_TEXT = 128;
// Facts longer than this many UTF-16 units are not written before the call: the core
// asks for one when it reads it (env.tandem_fact, wasm/core/api.ts TableFacts), so a
// long fact it does not read (a returning user's x-request-id, the entropy) costs
// nothing, and one it reads costs the same encoding plus one wasm-to-JS call.
const LAZY_FACT = 16;
// A breaker plan's bytes for one fact (putBreakerFacts): room for any fact not left to
// the core to ask for (LAZY_FACT UTF-16 units, at most 3 bytes each).
const BREAKER_REGION = LAZY_FACT * 3;
// Breaker keys up to this many bytes are remembered per plan with their string, so a
// key seen last time is compared, not decoded.
const KEY_CACHE_BYTES = 256;
// ... and this many of them per plan, most recently read first: requests of a few
// upstreams or variants interleave (the Kong plugin reads the key of every admission for
// its carry), and decoding a key again cost more than the admission itself (≈ 80 ns
// of 290 with four keys in turn, measured in CPU time at load 10-12).
const KEY_CACHE_ENTRIES = 8;

// The per-call bridge (hot paths: decideExperiment, admitBreaker, recordBreaker): facts
// are written straight into the core's arena and fact table through views over its
// memory, the results read from its fixed result areas through the same views; the
// views are rebuilt only when memory grew (growing detaches the old buffer: length 0).
// The arena's address, the plans' fact tables and the result areas do not move between
// calls (the core's allocator does not move objects; the arena moves only when
// tandem_arena grows it), so they are asked once.
// Room for the first `n` facts as UTF-8 (at most 3 bytes a UTF-16 unit), plus slack.
function factBytes(facts: ReadonlyArray<string | undefined>, n: number): number {
  let size = 16;
  for (let i = 0; i < n; i++) {
    const f = facts[i];
    if (f !== undefined) size += f.length * 3;
  }
  return size;
}

export class TandemCore {
  private readonly ex: CoreExports;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  private u8 = new Uint8Array(0);
  private i32 = new Int32Array(0);
  private arenaPtr = 0;
  private arenaCap = 0;
  // Fact table address by handle (experiment, breaker, fault handles are apart).
  private readonly expTables: Array<number | undefined> = [];
  private readonly brkTables: Array<number | undefined> = [];
  private readonly faultTables: Array<number | undefined> = [];
  // The last key of each breaker handle: its bytes and its string.
  private readonly brkKeys: Array<Array<{ bytes: Uint8Array; text: string }> | undefined> = [];
  // Each breaker handle's fact buffer and the facts last written there.
  private readonly brkFacts: Array<WrittenFacts | undefined> = [];
  // The last breaker call's result, read on demand (admitCall, recordCall).
  readonly lastCall: BreakerCallView;
  // The last experiment decision, read on demand (decideVariant).
  readonly lastDecision: DecisionView;
  // i32 indexes of the result areas (fixed for the module's life).
  private readonly decisionAt: number;
  private readonly guardAt: number;
  private readonly breakerAt: number;
  private readonly faultAt: number;
  // The facts of the call in progress, for tandem_fact: a breaker plan's own write, or
  // `arenaFacts` (experiments, faults). One store per call when a breaker plan's facts
  // are the same as last time.
  private ask: WrittenFacts = { vals: [], table: 0, base: 0, off: 0, cap: 0, n: 0, version: 0 };
  private readonly arenaFacts: WrittenFacts = { vals: [], table: 0, base: 0, off: 0, cap: 0, n: 0, version: 0 };
  private factWrites = 0;                           // breaker fact writes so far (u32, never 0 once written)

  private constructor(instance: WebAssembly.Instance) {
    this.ex = instance.exports as unknown as CoreExports;
    this.ex._initialize?.();
    this.decisionAt = this.ex.tandem_experiment_result_ptr() >>> 2;
    this.guardAt = this.ex.tandem_experiment_guard_result_ptr() >>> 2;
    this.breakerAt = this.ex.tandem_breaker_result_ptr() >>> 2;
    this.faultAt = this.ex.tandem_fault_result_ptr() >>> 2;
    this.lastCall = new BreakerCallView({
      view: () => { this.mem(); return this.i32; },
      keyText: (h, p, n) => this.keyText(h, p, n),
    }, this.breakerAt);
    this.lastDecision = new DecisionView({
      view: () => { this.mem(); return this.i32; },
      text: (p, n) => this.readText(p, n),
    }, this.decisionAt, this.guardAt);
  }

  static fromBytes(bytes: Uint8Array): TandemCore {
    const mod = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    let core: TandemCore | null = null;
    const inst = new WebAssembly.Instance(mod, {
      env: {
        abort(_msg: number, _file: number, line: number, col: number): void {
          throw new CoreError(`tandem core aborted at ${line}:${col}`);
        },
        tandem_fact(slot: number): number {
          return core!.askedFact(slot);
        },
      },
    });
    core = new TandemCore(inst);
    return core;
  }

  // env.tandem_fact: the core reads fact `slot` of the call in progress, left out by
  // putFacts (FACT_ASK). Written after the others (room was made for all of them); the
  // core may have grown memory since, hence mem().
  private askedFact(slot: number): number {
    this.mem();
    const w = this.ask;
    const f = w.vals[slot] as string;
    const off = w.off;
    const n = this.writeText(f, w.base + off);
    const at = w.table + 2 * slot;
    this.i32[at] = off;
    this.i32[at + 1] = n;
    w.off = off + n;
    return n;
  }

  static fromFile(path: string): TandemCore {
    return TandemCore.fromBytes(readFileSync(path));
  }

  // The module's linear memory in bytes (it only grows): what memory-bound tests watch.
  memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }

  // Fresh views after any call into the core (it may have grown memory).
  private mem(): void {
    if (this.u8.length === 0) {
      const buf = this.ex.memory.buffer;
      this.u8 = new Uint8Array(buf);
      this.i32 = new Int32Array(buf);
    }
  }

  private bytes(): Uint8Array {
    this.mem();
    return this.u8;
  }

  // The arena's address with room for `size` bytes (asks the core only to grow it).
  private arena(size: number): number {
    if (size > this.arenaCap) {
      this.arenaPtr = this.ex.tandem_arena(size);
      this.arenaCap = this.ex.tandem_arena_size();
    }
    return this.arenaPtr;
  }

  // Writes `s` as UTF-8 at memory address p (room for s.length * 3 bytes); its length.
  private writeText(s: string, p: number): number {
    const u8 = this.u8;
    const n = s.length;
    if (n <= SHORT_TEXT) {
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) return this.enc.encodeInto(s, u8.subarray(p)).written;
        u8[p + i] = c;
      }
      return n;
    }
    return this.enc.encodeInto(s, u8.subarray(p)).written;
  }

  // The UTF-8 bytes at [p, p + n) as a string (TextDecoder's result for any bytes).
  private readText(p: number, n: number): string {
    const u8 = this.u8;
    if (n <= SHORT_TEXT) {
      let s = "";
      for (let i = p; i < p + n; i++) {
        const c = u8[i];
        if (c >= 0x80) return this.dec.decode(u8.subarray(p, p + n));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return this.dec.decode(u8.subarray(p, p + n));
  }

  // Writes `text` at the arena start; returns its UTF-8 length.
  private put(text: string): number {
    const ptr = this.arena(text.length * 3 + 16);
    this.mem();
    return this.writeText(text, ptr);
  }

  private out(): string {
    const p = this.ex.tandem_out_ptr();
    const n = this.ex.tandem_out_len();
    return n === 0 ? "" : this.dec.decode(this.bytes().subarray(p, p + n));
  }

  // A whole TrafficPolicy (JSON text) -> its plan; throws CoreError with the core's
  // message when the policy is invalid.
  compilePolicy(json: string): PolicyPlan {
    if (this.ex.tandem_policy_plan(this.put(json)) !== 1) throw new CoreError(this.out());
    return JSON.parse(this.out()) as PolicyPlan;
  }

  // The part `plugin` of a plan, or null when the policy has none.
  static part(plan: PolicyPlan, plugin: PartName): PolicyPart | null {
    return plan.parts.find((p) => p.plugin === plugin) ?? null;
  }

  // null when valid, else the core's error text.
  validatePolicy(json: string): string | null {
    return this.ex.tandem_validate_policy(this.put(json)) === 1 ? null : this.out();
  }

  validateBreaker(json: string): string | null {
    return this.ex.tandem_breaker_validate(this.put(json)) === 1 ? null : this.out();
  }

  configureExperiment(json: string): ExperimentPlan {
    const h = this.ex.tandem_experiment_configure(this.put(json));
    if (h < 0) throw new CoreError(this.out());
    this.expTables[h] = undefined;
    const desc = JSON.parse(this.out()) as Omit<ExperimentPlan, "handle">;
    return { handle: h, ...desc };
  }

  release(plan: ExperimentPlan): void {
    this.ex.tandem_release(plan.handle);
    this.expTables[plan.handle] = undefined;
  }

  // The first `n` facts as UTF-8 from `base` and their [offset, length | -1] pairs into
  // the fact table at `table`; a long one left for the core to ask for (FACT_ASK,
  // LAZY_FACT). Views current (mem()). Returns the bytes written.
  private writeFactTable(facts: ReadonlyArray<string | undefined>, n: number, table: number, base: number): number {
    const t = this.i32;
    let at = table >>> 2;
    let off = 0;
    for (let i = 0; i < n; i++, at += 2) {
      const f = facts[i];
      if (f === undefined) { t[at] = 0; t[at + 1] = -1; continue; }
      if (f.length > LAZY_FACT) { t[at] = 0; t[at + 1] = FACT_ASK; continue; }
      const k = this.writeText(f, base + off);
      t[at] = off;
      t[at + 1] = k;
      off += k;
    }
    return off;
  }

  // Writes request facts as UTF-8 into the arena and their [offset, length | -1] pairs
  // into the fact table at `table` (a plan's, sized for its needs); a long one is left
  // for the core to ask for (FACT_ASK, LAZY_FACT).
  private putFacts(facts: ReadonlyArray<string | undefined>, table: number): void {
    const base = this.arena(factBytes(facts, facts.length));
    this.mem();
    const w = this.arenaFacts;
    w.off = this.writeFactTable(facts, facts.length, table, base);
    w.vals = facts as Array<string | undefined>;
    w.table = table >>> 2;
    w.base = base;
    this.ask = w;
  }

  // A breaker plan's facts, into its own buffer (tandem_breaker_facts), where nothing
  // else writes: when they are the same strings as the plan's last call, the bytes and
  // the table written then still hold them, and nothing is written (a breaker sees few
  // keys: the same Host, the same variant). Facts the core asked for since (FACT_ASK)
  // stay written too; `off` follows them. When some differ, only those are written
  // (writeBreakerFacts): each fact has its own BREAKER_REGION bytes.
  private putBreakerFacts(h: number, facts: ReadonlyArray<string | undefined>): number {
    const w = this.brkFacts[h];
    let i = 0;
    if (w !== undefined && w.n === facts.length) {
      const vals = w.vals;
      const n = w.n;
      // (undefined apart first: a comparison site that sees only strings compiles to a
      // string comparison, one that also sees undefined to a generic call)
      for (; i < n; i++) {
        const f = facts[i];
        const v = vals[i];
        if (f === undefined || v === undefined) { if (f !== v) break; } else if (f !== v) break;
      }
      if (i === n) {
        this.ask = w;
        return w.version;
      }
    }
    return this.writeBreakerFacts(h, facts, i);
  }

  // putBreakerFacts when they differ from the last ones from fact `from` on (or none
  // were written yet). Fact i's bytes are at i * BREAKER_REGION, room for any fact the
  // binding writes (a longer one is left for the core to ask for, FACT_ASK: written after
  // the regions, askedFact). So a short fact that changed is written in its region and
  // the others stay (four keys in turn: the Host is not written again with each
  // variant); everything is written again only when a long fact changed or the number
  // of facts did.
  private writeBreakerFacts(h: number, facts: ReadonlyArray<string | undefined>, from: number): number {
    const n = facts.length;
    let w = this.brkFacts[h];
    if (w !== undefined && w.n === n && this.rewriteShort(w, facts, from)) {
      w.version = this.factWrites = ((this.factWrites + 1) >>> 0) || 1;
      this.ask = w;
      return w.version;
    }
    let size = n * BREAKER_REGION + 16;
    for (let i = 0; i < n; i++) {
      const f = facts[i];
      if (f !== undefined && f.length > LAZY_FACT) size += f.length * 3;
    }
    if (w === undefined) this.brkFacts[h] = w = { vals: [], table: this.brkTable(h) >>> 2, base: 0, off: 0, cap: -1, n: 0, version: 0 };
    if (size > w.cap) {
      w.base = this.ex.tandem_breaker_facts(h, size);
      w.cap = size;
    }
    w.n = -1;                                // (not valid until written)
    this.mem();
    const t = this.i32;
    for (let i = 0, at = w.table; i < n; i++, at += 2) {
      const f = facts[i];
      w.vals[i] = f;
      if (f === undefined) { t[at] = 0; t[at + 1] = -1; continue; }
      if (f.length > LAZY_FACT) { t[at] = 0; t[at + 1] = FACT_ASK; continue; }
      t[at] = i * BREAKER_REGION;
      t[at + 1] = this.writeText(f, w.base + i * BREAKER_REGION);
    }
    w.off = n * BREAKER_REGION;
    w.n = n;
    w.version = this.factWrites = ((this.factWrites + 1) >>> 0) || 1;
    this.ask = w;
    return w.version;
  }

  // Writes the facts from `from` on that differ from w's, each in its region, when none
  // of them is long; false (nothing written) otherwise.
  private rewriteShort(w: WrittenFacts, facts: ReadonlyArray<string | undefined>, from: number): boolean {
    const n = w.n;
    const vals = w.vals;
    for (let i = from; i < n; i++) {
      const f = facts[i];
      if (f !== undefined && f.length > LAZY_FACT && f !== vals[i]) return false;
    }
    w.n = -1;                                // (not valid until written)
    this.mem();
    const t = this.i32;
    for (let i = from, at = w.table + 2 * from; i < n; i++, at += 2) {
      const f = facts[i];
      const v = vals[i];
      if (f === undefined || v === undefined) { if (f === v) continue; } else if (f === v) continue;
      vals[i] = f;
      if (f === undefined) { t[at] = 0; t[at + 1] = -1; continue; }
      t[at] = i * BREAKER_REGION;
      t[at + 1] = this.writeText(f, w.base + i * BREAKER_REGION);
    }
    w.n = n;
    return true;
  }

  private expTable(h: number): number {
    let p = this.expTables[h];
    if (p === undefined) this.expTables[h] = p = this.ex.tandem_fact_table(h);
    return p;
  }

  private brkTable(h: number): number {
    let p = this.brkTables[h];
    if (p === undefined) this.brkTables[h] = p = this.ex.tandem_breaker_fact_table(h);
    return p;
  }

  private faultTable(h: number): number {
    let p = this.faultTables[h];
    if (p === undefined) this.faultTables[h] = p = this.ex.tandem_fault_fact_table(h);
    return p;
  }

  // `facts[i]` answers plan.needs[i] (undefined = absent). `probing`: how the adapter
  // learns a guarded call's outcome (admitBreaker's): "end" (Kong) never lets a
  // long-lived request probe a half-open guard. One call into the core: the decision is
  // read from its decision and guard areas (D_*, G_* slots).
  decideExperiment(plan: ExperimentPlan, facts: ReadonlyArray<string | undefined>, nowMs: number, probing: Probing = "headers"): ExperimentDecision {
    return this.lastDecision.toDecision(this.decideVariant(plan, facts, nowMs, probing));
  }

  // decideExperiment's lean form: the variant index (-1: out of scope) and no object;
  // the rest of the decision is read from `lastDecision` when wanted, before the next
  // decision (./decision-view.ts).
  decideVariant(plan: ExperimentPlan, facts: ReadonlyArray<string | undefined>, nowMs: number, probing: Probing = "headers"): number {
    this.putFacts(facts, this.expTable(plan.handle));
    this.lastDecision.plan = plan;
    return this.ex.tandem_experiment_decide(plan.handle, nowMs, probingBits(probing));
  }

  // The decision log (wasm/core/decision-log/): whether the request with id `id` is
  // sampled, for a decision that answered log 2 (the id was not among the facts).
  logSampled(plan: ExperimentPlan, id: string): boolean {
    return this.ex.tandem_log_sampled(plan.handle, this.put(id)) === 1;
  }

  // The decision log's line of a decided request (wasm/core/decision-log/line.ts):
  // reason REASON_*, source the catalog's SOURCE_LABELS index, answeredBy ANSWERED_*,
  // status the client's, latencyMs < 0 when no upstream answered or failed, id the
  // request id (null: none).
  decisionLine(plan: ExperimentPlan, variant: number, reason: number, source: number, answeredBy: number, status: number, latencyMs: number, id: string | null): string {
    const n = id === null ? -1 : this.put(id);
    this.ex.tandem_decision_line(plan.handle, variant, reason, source, answeredBy, status, latencyMs, n);
    return this.out();
  }

  // What each tagging experiment gave the last decision (none out of scope).
  lastTags(plan: ExperimentPlan): TagAssignment[] {
    const out: TagAssignment[] = [];
    for (let i = 0; i < plan.tags.length; i++) {
      const v = this.ex.tandem_experiment_tag_variant(plan.handle, i);
      if (v < 0) return [];
      const t = plan.tags[i];
      out.push({ name: t.name, variant: t.variants[v], reason: this.ex.tandem_experiment_tag_reason(plan.handle, i), bucket: this.ex.tandem_experiment_tag_bucket(plan.handle, i) });
    }
    return out;
  }

  // The outcome of a request guard `index` admitted with (flags, generation).
  // error: BreakerError (connectOrReset: a failure when either kind is listed).
  recordGuard(plan: ExperimentPlan, index: number, flags: number, generation: number,
    o: CallOutcome, nowMs: number): GuardRecord {
    const outcome = this.ex.tandem_experiment_guard_record(plan.handle, index, flags, generation >>> 0, outcomeStatus(o), o.error ?? 0, o.latencyMs, nowMs);
    this.mem();
    const v = this.i32;
    const g = this.guardAt;
    return { state: BREAKER_STATES[v[g + G_STATE]], transition: v[g + G_TRANSITION] === 1 ? BREAKER_REASONS[v[g + G_REASON]] : null, outcome };
  }

  // Each guarded variant's guard state by variant name, as held (no time-driven change
  // applied: what Envoy's shared data holds too).
  guardStates(plan: ExperimentPlan): Record<string, BreakerStateName> {
    const out: Record<string, BreakerStateName> = {};
    plan.guards.forEach((g, i) => {
      const st = this.describeGuard(plan, i)?.state;
      out[plan.variants[g.variant].name] = st === "OPEN" ? "open" : st === "HALF_OPEN" ? "half_open" : "closed";
    });
    return out;
  }

  // A guard's state as JSON (wasm/core/breaker/describe.ts describeState), or null.
  describeGuard(plan: ExperimentPlan, index: number): Record<string, unknown> | null {
    return this.ex.tandem_experiment_guard_describe(plan.handle, index) === 1 ? JSON.parse(this.out()) : null;
  }

  // Index of the stickiness source that keyed the last decision; -1: a new id from the
  // entropy fact; -2: no key and no entropy fact (the adapter fetches it and decides again).
  lastKeySource(plan: ExperimentPlan): number {
    return this.ex.tandem_experiment_key_source(plan.handle);
  }

  lastBucket(plan: ExperimentPlan): number {
    return this.ex.tandem_experiment_bucket(plan.handle);
  }

  // The per-call bridge alone, the benchmarks' baseline: the facts written as
  // decideExperiment writes them, then one trivial export (lastBucket) in place of the
  // decision, the memory views checked after it as after any call. Returns that bucket.
  bridgeOnly(plan: ExperimentPlan, facts: ReadonlyArray<string | undefined>): number {
    this.putFacts(facts, this.expTable(plan.handle));
    const v = this.ex.tandem_experiment_bucket(plan.handle);
    this.mem();
    return v;
  }

  // ---- circuit-breaker ----

  // The `circuit-breaker` plugin config (circuitBreaker fields + fallback) -> a plan
  // with a handle; throws CoreError with the core's message. `seed`: see api.ts.
  configureBreaker(json: string, seed = 0): BreakerPlan {
    const h = this.ex.tandem_breaker_configure(this.put(json), seed >>> 0);
    if (h < 0) throw new CoreError(this.out());
    this.brkTables[h] = undefined;
    this.brkKeys[h] = undefined;
    this.brkFacts[h] = undefined;
    return { handle: h, ...(JSON.parse(this.out()) as Omit<BreakerPlan, "handle">) };
  }

  releaseBreaker(plan: BreakerPlan): void {
    this.ex.tandem_breaker_release(plan.handle);
    this.brkTables[plan.handle] = undefined;
    this.brkKeys[plan.handle] = undefined;
    this.brkFacts[plan.handle] = undefined;
  }

  // Key from the request facts (`facts[i]` answers plan.needs[i]) and admission at nowMs:
  // one call into the core (tandem_breaker_admit), the result read from its area.
  // `probing` (wasm/core/breaker/runtime.ts): how the adapter learns outcomes —
  // "headers": at the response headers (Envoy), any request may probe; "end": when the
  // request ends (Kong's log phase), so a long-lived request never probes; "end-unread":
  // the same, with `facts` left empty (the request's headers not read): a call that would
  // probe then answers needsFacts.
  admitBreaker(plan: BreakerPlan, facts: ReadonlyArray<string | undefined>, nowMs: number, probing: Probing = "headers"): BreakerAdmission {
    const c = this.admitCall(plan, facts, nowMs, probing);
    const key = this.lastCall.key;
    if (callPreflight(c) || callNeedsMethod(c)) {
      const state = this.breakerState(plan, key) ?? "closed";
      return {
        key, pass: callPreflight(c) ? "preflight" : "method", flags: ADMITTED, admitted: true, permitted: false, generation: 0,
        state, prevState: state, transition: null, retryAfter: -1, answer: FallbackKind.None, outcome: -1, needsFacts: false,
        effects: 0, reply: REPLY_REJECT, replyRetryAfter: -1,
      };
    }
    const a = this.lastCall.toCall() as BreakerAdmission;
    a.key = key;
    return a;
  }

  // admitBreaker's lean form, what the adapters call: one call into the core, no object.
  // The answer packed (CALL_*: callAdmitted, callEffects, callTransition, callPreflight,
  // callNeedsMethod of ./breaker-call.ts); the rest is read from `lastCall` when wanted
  // (key, generation, ticket, states, Retry-After), before the next breaker call.
  admitCall(plan: BreakerPlan, facts: ReadonlyArray<string | undefined>, nowMs: number, probing: Probing = "headers"): number {
    const h = plan.handle;
    const version = this.putBreakerFacts(h, facts);
    this.lastCall.handle = h;
    return this.ex.tandem_breaker_admit(h, nowMs, probingBits(probing), version);
  }

  // The outcome of a call admitCall admitted: by its ticket (lastCall.ticket), flags and
  // generation; `status` as outcomeStatus gives it, `error` a BreakerError. Returns
  // OUTCOME_* (or OUTCOME_KEY_GONE); the rest is in `lastCall` (state, transition). The
  // key (lastCall.key at admission) matters only when it was evicted since: the record
  // then goes by the key, as recordBreaker's, since it may have been admitted again;
  // without it such a record is OUTCOME_KEY_GONE.
  recordCall(plan: BreakerPlan, ticket: number, flags: number, generation: number, status: number, error: number,
    latencyMs: number, nowMs: number, key?: string): number {
    const r = this.ex.tandem_breaker_record_ticket(plan.handle, ticket, flags, generation >>> 0, status, error, latencyMs, nowMs);
    if (r !== OUTCOME_TICKET_STALE) return r;
    if (key === undefined) return OUTCOME_KEY_GONE;
    return this.ex.tandem_breaker_record(plan.handle, this.put(key), flags, generation >>> 0, status, error, latencyMs, nowMs);
  }

  // The key at [p, p + n): the string remembered for handle h when the bytes are the
  // same as last time (a breaker sees few keys), else decoded and remembered.
  private keyText(h: number, p: number, n: number): string {
    this.mem();
    const u8 = this.u8;
    let keys = this.brkKeys[h];
    if (keys === undefined) this.brkKeys[h] = keys = [];
    for (let k = 0; k < keys.length; k++) {
      const c = keys[k];
      const b = c.bytes;
      if (b.length !== n) continue;
      let i = 0;
      while (i < n && u8[p + i] === b[i]) i++;
      if (i !== n) continue;
      for (let j = k; j > 0; j--) keys[j] = keys[j - 1];   // most recent first
      keys[0] = c;
      return c.text;
    }
    const text = n === 0 ? "" : this.readText(p, n);
    if (n <= KEY_CACHE_BYTES) {
      if (keys.length >= KEY_CACHE_ENTRIES) keys.pop();    // the least recent goes
      keys.unshift({ bytes: u8.slice(p, p + n), text });
    }
    return text;
  }

  // Admission of an explicit key (any request may probe).
  allowBreaker(plan: BreakerPlan, key: string, nowMs: number): BreakerCall {
    this.ex.tandem_breaker_allow(plan.handle, this.put(key), nowMs, PROBES_AT_HEADERS);
    this.lastCall.handle = plan.handle;
    return this.lastCall.toCall();
  }

  // The outcome of a call admitted with (flags, generation). error: BreakerError.
  recordBreaker(plan: BreakerPlan, key: string, flags: number, generation: number,
    o: CallOutcome, nowMs: number): BreakerCall {
    this.ex.tandem_breaker_record(plan.handle, this.put(key), flags, generation >>> 0, outcomeStatus(o), o.error ?? 0, o.latencyMs, nowMs);
    return this.lastCall.toCall();
  }

  // What answers a call whose upstream answered with `outcome` (recordBreaker's), for a
  // request with `method`: with fallback.on upstreamFailure, a failure of an idempotent
  // method is answered by the fallback (FallbackKind.Respond); else None.
  // Whether a request with this content-type is gRPC (tandem answers it gRPC-shaped).
  isGrpc(contentType: string | undefined | null): boolean {
    return typeof contentType === "string" && this.ex.tandem_is_grpc(this.put(contentType)) === 1;
  }

  // A request's latency under gateway retries (wasm/core/breaker/tries.ts): the first
  // try's start to the last try's first response byte, from the tries' facts (ms).
  requestLatencyMs(firstTryStartMs: number, lastTryStartMs: number, lastTryMs: number): number {
    return this.ex.tandem_request_latency(firstTryStartMs, lastTryStartMs, lastTryMs);
  }

  fallbackOnOutcome(plan: BreakerPlan, outcome: number, method: string): FallbackKind {
    return this.ex.tandem_breaker_on_outcome(plan.handle, outcome, this.put(method)) as FallbackKind;
  }

  // The key's state (no time-driven change applied), null for a key never seen or evicted.
  breakerState(plan: BreakerPlan, key: string): BreakerStateName | null {
    const s = this.ex.tandem_breaker_state(plan.handle, this.put(key));
    return s < 0 ? null : BREAKER_STATES[s];
  }

  describeBreakerState(plan: BreakerPlan, key: string): Record<string, unknown> | null {
    return this.ex.tandem_breaker_describe_state(plan.handle, this.put(key)) === 1 ? JSON.parse(this.out()) : null;
  }

  // ---- the cache fallback (a breaker plan whose fallback has a cache) ----

  // The request's cache key from its facts (`facts[i]` answers plan.needs[i]), or why
  // it is neither looked up nor stored.
  cacheKey(plan: BreakerPlan, facts: ReadonlyArray<string | undefined>): { key: Buffer | null; why: string } {
    this.putBreakerFacts(plan.handle, facts);
    const n = this.ex.tandem_cache_key(plan.handle);
    if (n === 0) return { key: null, why: CACHE_KEY_WHY[this.ex.tandem_cache_why()] ?? "" };
    const p = this.arenaPtr;
    return { key: Buffer.from(this.bytes().subarray(p, p + n)), why: "" };
  }

  private putBytes(parts: ReadonlyArray<Uint8Array>): void {
    let n = 0;
    for (const b of parts) n += b.length;
    const p = this.arena(n + 16);
    const mem = this.bytes();
    let o = p;
    for (const b of parts) { mem.set(b, o); o += b.length; }
  }

  // A servable entry for the key (its answer: headers with Age and x-tandem-fallback),
  // or null (a miss). `use` false: a look ahead that leaves the LRU order and the counts
  // alone (wasm/core/cache/runtime.ts lookup).
  cacheLookup(plan: BreakerPlan, key: Uint8Array, nowMs: number, use = true): CacheAnswer | null {
    this.putBytes([key]);
    const status = this.ex.tandem_cache_lookup(plan.handle, key.length, nowMs, use ? 1 : 0);
    if (status === 0) return null;
    const hn = new Int32Array(this.bytes().buffer, this.ex.tandem_cache_result_ptr(), 4)[0];
    const p = this.ex.tandem_out_ptr();
    const all = this.bytes().subarray(p, p + this.ex.tandem_out_len());
    return { status, headers: decodePairs(all.subarray(0, hn)), body: Buffer.from(all.subarray(hn)) };
  }

  // Whether a response head may be stored: "stored" (buffer its body), else why not.
  cacheCheck(plan: BreakerPlan, status: number, headers: ReadonlyArray<HeaderPair>): string {
    const h = encodePairs(headers);
    this.putBytes([h]);
    const r = this.ex.tandem_cache_check(plan.handle, status, h.length);
    return CACHE_STORE_REASONS[r] ?? "none";
  }

  // Stores a whole response under the key: "stored", "evicted" (stored, pushing the
  // least recently used entry of its set out), or why not.
  cacheStore(plan: BreakerPlan, key: Uint8Array, status: number, headers: ReadonlyArray<HeaderPair>, body: Uint8Array, nowMs: number): string {
    const h = encodePairs(headers);
    this.putBytes([key, h, body]);
    const r = this.ex.tandem_cache_store(plan.handle, key.length, status, h.length, body.length, nowMs);
    if (r === 1) return "stored";
    if (r === 2) return "evicted";
    if (r === -1) return "too-large";
    if (r <= -100) return CACHE_STORE_REASONS[-100 - r] ?? "none";
    return "busy";
  }

  cacheStats(plan: BreakerPlan): CacheStats | null {
    this.ex.tandem_cache_stats(plan.handle);
    return JSON.parse(this.out()) as CacheStats | null;
  }

  // ---- fault injection ----

  // The `fault-injection` plugin config ({faults, experiment?, hasBreaker?}) -> a plan
  // with a handle; throws CoreError with the core's message.
  configureFaults(json: string): FaultPlan {
    const h = this.ex.tandem_fault_configure(this.put(json));
    if (h < 0) throw new CoreError(this.out());
    this.faultTables[h] = undefined;
    return { handle: h, ...(JSON.parse(this.out()) as Omit<FaultPlan, "handle">) };
  }

  releaseFaults(plan: FaultPlan): void {
    this.ex.tandem_fault_release(plan.handle);
    this.faultTables[plan.handle] = undefined;
  }

  // `facts[i]` answers plan.needs[i] (undefined = absent).
  decideFault(plan: FaultPlan, facts: ReadonlyArray<string | undefined>, nowMs: number): FaultDecision {
    this.putFacts(facts, this.faultTable(plan.handle));
    this.ex.tandem_fault_decide(plan.handle, nowMs);
    this.mem();
    const v = this.i32;
    const f = this.faultAt;
    return {
      fault: v[f + F_FAULT], delayMs: v[f + F_DELAY_MS] >= 0 ? v[f + F_DELAY_MS] : null, abortStatus: v[f + F_ABORT_STATUS] > 0 ? v[f + F_ABORT_STATUS] : null,
      reason: v[f + F_REASON], strip: v[f + F_STRIP] === 1, needsEntropy: v[f + F_NEEDS_ENTROPY] === 1,
    };
  }

  // Fault i in the last decision: why it did (not) apply, its coins' buckets (-1: not tossed).
  faultTrace(plan: FaultPlan, i: number): FaultTrace {
    const h = plan.handle;
    return { why: this.ex.tandem_fault_why(h, i), delayBucket: this.ex.tandem_fault_delay_bucket(h, i), abortBucket: this.ex.tandem_fault_abort_bucket(h, i) };
  }

  // The adapter's count of fault i's delays in flight (maxActive): +1 when a delay
  // starts, -1 when it ends (resumed or the client left). The new count.
  faultActive(plan: FaultPlan, i: number, delta: number): number {
    return this.ex.tandem_fault_active(plan.handle, i, delta);
  }
}
