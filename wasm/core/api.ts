// The core as a standalone wasm module for the Kong plugins (dist/kong/*/tandem-core.wasm)
// and the CLI. A flat C-like ABI: JS writes UTF-8 into the arena, calls, and reads
// results from the out buffer. Calls are synchronous; Node runs one at a time.
import { isGrpcContentType } from "./request/grpc";
import { Bytes, utf8 } from "./text/bytes";
import { FactSource, Need } from "./request/facts";
import { ExperimentDecision, ExperimentRuntime } from "./experiment/experiment";
import { TaggingRuntime, TaggingSettings } from "./tagging/tagging";
import { configureExperiment, validatePolicy } from "./policy";
import { configureBreaker, configureBreakerPlugin } from "./breaker/plugin-config";
import { BreakerRuntime, RESULT_SLOTS } from "./breaker/runtime";
import { compilePolicy } from "./plan";
import { fallbackOnOutcome } from "./breaker/fallback";
import { requestLatencyMs } from "./breaker/tries";
import { jsonText } from "./json/write";
import { sourceName } from "./experiment/config";
import { BreakerSettings } from "./breaker/settings";
import { describeState, modeName } from "./breaker/describe";
import { LocalGuards } from "./guard/guard";
import { BreakerState } from "./breaker/state";
import { GUARD_SLOTS, G_FLAGS, G_GENERATION, G_GUARD, G_REASON, G_STATE, G_TRACKED, G_TRANSITION } from "./contract";
import { configureFaults } from "./fault/policy";
import { FACT_ASK, PROBES_AT_HEADERS, TICKET_ENTRIES } from "./contract";
import { DECISION_SLOTS, D_COOKIE_LEN, D_EXPOSE_LEN, D_LOG, D_REASON, D_STRIP, D_TAGS_LEN, D_TEXT, D_VARIANT } from "./contract";
import { logSampled } from "./decision-log/sample";
import { buildLine, linePtr } from "./decision-log/line";
import { FAULT_SLOTS, F_ABORT_STATUS, F_DELAY_MS, F_FAULT, F_NEEDS_ENTROPY, F_REASON, F_STRIP } from "./contract";
import { FaultRuntime } from "./fault/fault";
import { BY_USER, FaultSettings, SCOPE_UPSTREAM } from "./fault/settings";
import { formatBp } from "./config/reader";
import { CacheRuntime } from "./cache/runtime";
import { keyHashA, keyHashB } from "./cache/key";

// Optimisation: the core-node target is built with shrinkLevel 0 (-O3; the filter and the
// test entries keep shrinkLevel 1). At -Os binaryen inlines only the smallest functions,
// so helpers such as StaticArray's element store (87 call sites) stayed calls on every
// hot path; V8 does not inline wasm calls. 144,707 -> 207,915 bytes; measured in one
// process, the two builds alternately (load 7-9): a breaker admit + record through the raw
// exports 296 -> 225 ns, a decision from JS 340 -> 272 ns; `npm run bench -- --only=peers`
// (load 15-18) breakerRatio 1.70 -> 2.42, bucketRatio 1.45 -> 1.51 (issue 17).
// Garbage collection. This module is built with AssemblyScript's "minimal" runtime
// (asconfig.json target core-node; the test entries keep target core, the incremental
// collector, as they never collect), like the filter (wasm/filter/dispatcher.ts): a
// mark-and-sweep collector that never runs by itself, and none of the incremental
// collector's shadow stack and write barriers, which made every hot call 2-3x slower
// (issue 17 item 1, the wasm call alone, the two builds run alternately: a decision
// 775 / 1,060 -> 441 / 416 ns, a breaker allow + record 1,205 / 1,180 -> 214 / 389 ns;
// docs/performance.md). It collects only where we call it: at the start of an export,
// before it holds any object (TCMS does not scan the stack; JavaScript holds no object,
// only addresses of ones rooted in globals: the arena, out, fact tables, result areas).
// When: each call adds its weight to a debt, and the debt reaching COLLECT_DEBT collects;
// hot calls (decide, admit, record: they allocate nothing for a known user or key) weigh
// 1 (0 for the breaker's calls that cannot allocate: tandem_breaker_admit on the facts
// its plan's last admission read, tandem_breaker_record_ticket), any other export COLLECT_WEIGHT (configuring, JSON out, cache entries); configure,
// validate and release collect at once; and so does the first call after memory grew (the
// allocator doubles memory when it runs out: that call frees what filled it).
const COLLECT_DEBT: i32 = 4096;
const COLLECT_WEIGHT: i32 = 64;
let collectDebt: i32 = 0;
let collectedPages: i32 = 0;

// @ts-ignore: decorator
@inline function gc(weight: i32): void {
  collectDebt += weight;
  if (collectDebt >= COLLECT_DEBT || memory.size() != collectedPages) collectNow();
}

function collectNow(): void {
  collectDebt = 0;
  __collect();
  collectedPages = memory.size();
}

let arena = new StaticArray<u8>(65536);
let out = new StaticArray<u8>(0);
let outLen: i32 = 0;
const runtimes = new Array<ExperimentRuntime | null>(0);
const tables = new Array<StaticArray<i32>>(0);

function setOut(s: string): void {
  out = utf8(s);
  outLen = out.length;
}

function setOutBytes(p: usize, n: i32): void {
  if (out.length < n) out = new StaticArray<u8>(n + 256);
  memory.copy(changetype<usize>(out), p, n);
  outLen = n;
}

function arenaText(len: i32): string {
  return String.UTF8.decodeUnsafe(changetype<usize>(arena), <usize>len);
}

// The Node binding writes a fact it left out (FACT_ASK: a long one, ../../core-js/
// tandem-core.ts) into the arena and its [offset, length] into the table, and returns
// the length: a wasm-to-JS call (~10-20 ns) only for a long fact the core reads, none
// for the many it does not (a returning user's x-request-id). It calls no export back.
// @ts-ignore: decorator
@external("env", "tandem_fact")
declare function askFact(slot: i32): i32;

// Facts from the table JS fills: two i32 per slot, [offset from `base`, length or -1,
// or FACT_ASK: ask for it]. `base`: the arena (experiments, faults) or the breaker plan's
// own fact buffer (tandem_breaker_facts).
class TableFacts extends FactSource {
  table: StaticArray<i32> = new StaticArray<i32>(0);
  base: usize = 0;
  fetch(slot: i32, need: Need, o: Bytes): void {
    let len = unchecked(this.table[(slot << 1) + 1]);
    if (len == FACT_ASK) len = askFact(slot);
    if (len >= 0) o.set(this.base + <usize>unchecked(this.table[slot << 1]), len);
  }
}
const tableFacts = new TableFacts();

// The facts of the call about to be made: table t, offsets from base.
// @ts-ignore: decorator
@inline function useTable(t: StaticArray<i32>, base: usize): TableFacts {
  tableFacts.table = t;
  tableFacts.base = base;
  return tableFacts;
}

export function tandem_arena(size: i32): usize {
  gc(COLLECT_WEIGHT);
  return arenaOf(size);
}

function arenaOf(size: i32): usize {
  if (arena.length < size) arena = new StaticArray<u8>(size + (size >> 1));
  return changetype<usize>(arena);
}
// The arena's size in bytes: the Node binding writes facts straight into it and asks
// tandem_arena again only when they need more (the arena moves only then).
export function tandem_arena_size(): i32 { return arena.length; }
export function tandem_out_ptr(): usize { return changetype<usize>(out); }
export function tandem_out_len(): i32 { return outLen; }

// Compiles a whole TrafficPolicy (JSON text of `len` bytes in the arena) into its plan
// (./plan.ts). Returns 1 and the plan JSON in the out buffer; else 0 and the error text.
export function tandem_policy_plan(len: i32): i32 {
  collectNow();
  const res = compilePolicy(arenaText(len));
  if (res.error.length > 0) { setOut(res.error); return 0; }
  setOut(res.plan);
  return 1;
}

// Validates a whole TrafficPolicy (JSON text of `len` bytes in the arena). Returns 1
// when valid; else 0 and the error text in the out buffer.
export function tandem_validate_policy(len: i32): i32 {
  collectNow();
  const err = validatePolicy(arenaText(len));
  setOut(err);
  return err.length == 0 ? 1 : 0;
}

// Validates a `circuit-breaker` plugin config (circuitBreaker fields + `fallback`).
// Returns 1 when valid; else 0 and the error text in the out buffer.
export function tandem_breaker_validate(len: i32): i32 {
  collectNow();
  const err = configureBreaker(arenaText(len));
  setOut(err);
  return err.length == 0 ? 1 : 0;
}

// Returns a handle >= 0, or -1 with the error text in the out buffer. On success the
// out buffer holds a JSON description the adapter uses to build its fetch plan.
export function tandem_experiment_configure(len: i32): i32 {
  collectNow();
  const res = configureExperiment(arenaText(len));
  const s = res.settings;
  if (s === null) { setOut(res.error); return -1; }
  const rt = new ExperimentRuntime(s);
  if (s.guards.length > 0) rt.gate = new LocalGuards(s.guards);
  let h = -1;
  for (let i = 0; i < runtimes.length; i++) if (runtimes[i] === null) { h = i; break; }
  if (h < 0) { h = runtimes.length; runtimes.push(null); tables.push(new StaticArray<i32>(0)); }
  runtimes[h] = rt;
  tables[h] = new StaticArray<i32>(s.needs.list.length * 2);
  setTagging(h, res.tags);
  const c = s.cookie;
  let d = "{\"policy\":" + jsonText(s.policy) + ",\"name\":" + jsonText(s.name) + ",\"metrics\":" + (s.metrics ? "true" : "false") + ",\"hasFaults\":" + (s.hasFaults ? "true" : "false") + ",\"decisionLogBp\":" + s.logBp.toString() + ",\"variantHeader\":\"" + s.variantHeader + "\",\"overrideHeader\":" + (s.overrideHeader.length > 0 ? "\"" + s.overrideHeader + "\"" : "null") + ",\"expose\":" + (s.expose ? "true" : "false") + ",\"clock\":" + (s.clock ? "true" : "false") + ",\"cookie\":" + (c !== null ? "\"" + c.name + "\"" : "null") + ",\"variants\":[";
  for (let i = 0; i < s.variants.length; i++) {
    const v = s.variants[i];
    if (i > 0) d += ",";
    d += "{\"name\":\"" + v.name + "\",\"upstream\":" + (v.upstream.length > 0 ? jsonText(v.upstream) : "null") + "}";
  }
  d += "],\"guards\":[";
  for (let i = 0; i < s.guards.length; i++) {
    const g = s.guards[i];
    if (i > 0) d += ",";
    d += "{\"variant\":" + g.variant.toString() + ",\"to\":" + g.to.toString() + ",\"mode\":\"" + modeName(g.breaker.mode) + "\"}";
  }
  d += "],\"sources\":[";
  for (let i = 0; i < s.sources.length; i++) d += (i > 0 ? "," : "") + jsonText(sourceName(s.sources[i]));
  d += "],\"sourceKinds\":[";
  for (let i = 0; i < s.sources.length; i++) d += (i > 0 ? "," : "") + (<i32>s.sources[i].kind).toString();
  d += "],\"needs\":[";
  for (let i = 0; i < s.needs.list.length; i++) {
    const n = s.needs.list[i];
    if (i > 0) d += ",";
    d += "{\"kind\":" + (<i32>n.kind).toString() + ",\"name\":\"" + n.name + "\"}";
  }
  d += "]" + describeTagging(res.tags) + "}";
  setOut(d);
  return h;
}

export function tandem_release(h: i32): void {
  collectNow();
  if (h >= 0 && h < runtimes.length) { runtimes[h] = null; tables[h] = new StaticArray<i32>(0); setTagging(h, null); }
}

// Pointer to the fact table of handle `h` (2 x i32 per need slot).
export function tandem_fact_table(h: i32): usize {
  return changetype<usize>(tables[h]);
}

// Decides for the facts in the table. Returns the variant index, -1 when the request
// is out of the experiment's scope; the whole decision is in the decision area (D_*
// slots, ../contract.ts) and the guard consulted in the guard area (G_*), so an adapter
// reads it without further calls. The decision's text (Set-Cookie, x-tandem-decision,
// x-tandem-experiments values) is copied to one buffer D_TEXT points at; the copies
// are bytes of a few headers, made only when there is such a header. `nowMs` is the
// adapter's clock: the core reads none. probing: PROBES_AT_HEADERS when the adapter
// decides a guard probe at the response headers (ExperimentRuntime.probesAtHeaders;
// ./contract.ts).
const decisionResult = new StaticArray<i32>(DECISION_SLOTS);
let decisionText = new StaticArray<u8>(256);

export function tandem_experiment_result_ptr(): usize {
  return changetype<usize>(decisionResult);
}

export function tandem_experiment_decide(h: i32, nowMs: f64, probing: i32): i32 {
  gc(1);
  const rt = runtimes[h] as ExperimentRuntime;
  rt.probesAtHeaders = (probing & PROBES_AT_HEADERS) != 0;
  const d = rt.decide(useTable(tables[h], changetype<usize>(arena)), nowMs);
  decideTagging(h, rt, d, nowMs);
  guardResult[G_GUARD] = d.guard;
  if (d.guard >= 0) {
    guardResult[G_FLAGS] = d.guardFlags;
    guardResult[G_GENERATION] = <i32>d.guardGeneration;
    guardResult[G_STATE] = d.guardState;
    guardResult[G_TRACKED] = d.guardTracked ? 1 : 0;
  }
  const variant = d.inScope ? d.variant : -1;
  const e = d.expose;
  const t = taggingAt(h);
  const cookieLen = d.setCookieLen;
  const exposeLen = e === null ? 0 : e.length;
  const tagsLen = t === null ? 0 : t.len;
  const n = cookieLen + exposeLen + tagsLen;
  if (n > 0) {
    if (decisionText.length < n) decisionText = new StaticArray<u8>(n + 256);
    const p = changetype<usize>(decisionText);
    if (cookieLen > 0) memory.copy(p, changetype<usize>(d.setCookie), cookieLen);
    if (exposeLen > 0) memory.copy(p + <usize>cookieLen, changetype<usize>(e), exposeLen);
    if (tagsLen > 0) memory.copy(p + <usize>(cookieLen + exposeLen), changetype<usize>((t as TaggingRuntime).value), tagsLen);
  }
  unchecked(decisionResult[D_VARIANT] = variant);
  unchecked(decisionResult[D_REASON] = d.reason);
  unchecked(decisionResult[D_STRIP] = d.stripOverride ? 1 : 0);
  unchecked(decisionResult[D_TEXT] = <i32>changetype<usize>(decisionText));
  unchecked(decisionResult[D_COOKIE_LEN] = cookieLen);
  unchecked(decisionResult[D_EXPOSE_LEN] = exposeLen);
  unchecked(decisionResult[D_TAGS_LEN] = tagsLen);
  unchecked(decisionResult[D_LOG] = variant >= 0 ? d.log : 0);
  return variant;
}

// The decision log (./decision-log/): whether the request whose id is arena[0..len) is
// sampled under handle h's percent (1/0), for an adapter that passed no id to the
// decision (D_LOG 2: Kong fetches its request id only then).
export function tandem_log_sampled(h: i32, len: i32): i32 {
  gc(COLLECT_WEIGHT);
  const s = (runtimes[h] as ExperimentRuntime).settings;
  return logSampled(s.logBp, changetype<usize>(arena), len) ? 1 : 0;
}

// The decision log's line of a decided request (./decision-log/line.ts buildLine; the
// request id in arena[0..idLen), idLen < 0: none) in the out buffer; returns its length.
export function tandem_decision_line(h: i32, variant: i32, reason: i32, source: i32, answeredBy: i32, status: i32, latencyMs: f64, idLen: i32): i32 {
  gc(COLLECT_WEIGHT);
  const s = (runtimes[h] as ExperimentRuntime).settings;
  const n = buildLine(s, variant, reason, source, answeredBy, status, latencyMs, changetype<usize>(arena), idLen);
  setOutBytes(linePtr(), n);
  return n;
}

// Bucket of the last decision (for `tandem simulate` and `tandem explain`).
export function tandem_experiment_bucket(h: i32): i32 {
  return (runtimes[h] as ExperimentRuntime).decision.bucket;
}

// Of the last decision: which stickiness source gave the key (index into
// stickiness.sources; -1: a new id from the request's entropy).
export function tandem_experiment_key_source(h: i32): i32 {
  return (runtimes[h] as ExperimentRuntime).decision.keySource;
}

// ---- circuit-breaker (handle-based; see ./breaker-runtime.ts) ----
//
//   h = tandem_breaker_configure(len, seed)   config JSON in the arena -> handle, plan JSON in out
//   tandem_breaker_fact_table(h)              2 x i32 per plan need: [offset, length or -1 or FACT_ASK]
//   p = tandem_breaker_facts(h, size)         the plan's own fact buffer, room for `size` bytes:
//                                             the table's offsets are from p. It is the plan's
//                                             alone, so facts the adapter wrote stay there
//                                             (the binding does not write them again when
//                                             the next call has the same); it moves only
//                                             when asked for more room
//   c = tandem_breaker_admit(h, nowMs, probing, version) the key from those facts, then unless a CORS
//                                             preflight its admission; c packed (CALL_* of
//                                             ../contract.ts), the rest in the result area:
//                                             the key's bytes (R_KEY_*) and ticket (R_TICKET_*)
//   tandem_breaker_allow(h, n, nowMs, probing) admission of key arena[0..n), packed as above
//                                             (probing: PROBES_AT_HEADERS | FACTS_READ, ../contract.ts)
//   tandem_breaker_record(h, n, flags, generation, status, error, latencyMs, nowMs)
//                                             the outcome (error: ERROR_*, 4 = connect or reset)
//                                             -> OUTCOME_* or -1; result area
//   tandem_breaker_record_ticket(h, ticket, flags, ...) the same for the key a ticket names;
//                                             OUTCOME_TICKET_STALE when it left its entry
//   tandem_breaker_result_ptr()               i32 slots R_* of ./breaker-runtime.ts
//   tandem_breaker_on_outcome(h, outcome, m)  FallbackKind answering an upstream's outcome, method arena[0..m)
//   tandem_breaker_state(h, n)                0 closed, 1 open, 2 half_open, -1 unknown key
//   tandem_breaker_describe_state(h, n)       1 and the key's state as JSON in out, or 0
//   tandem_breaker_release(h)
const breakers = new Array<BreakerRuntime | null>(0);
const breakerTables = new Array<StaticArray<i32>>(0);
const breakerFacts = new Array<StaticArray<u8>>(0);          // each plan's fact bytes
const breakerResult = new StaticArray<i32>(RESULT_SLOTS);   // shared by all handles

// Returns a handle >= 0 and the plan (./breaker-runtime.ts describe()) in the out
// buffer, or -1 and the core's error text. `seed` keys the state table's hash: pass a
// random one so clients cannot aim header keys at collisions.
export function tandem_breaker_configure(len: i32, seed: u32): i32 {
  collectNow();
  const res = configureBreakerPlugin(arenaText(len));
  const s = res.settings;
  if (s === null) { setOut(res.error); return -1; }
  const rt = new BreakerRuntime(s as BreakerSettings, seed, breakerResult);
  rt.reroute = res.reroute;
  let h = -1;
  for (let i = 0; i < breakers.length; i++) if (breakers[i] === null) { h = i; break; }
  if (h < 0) { h = breakers.length; breakers.push(null); breakerTables.push(new StaticArray<i32>(0)); breakerFacts.push(new StaticArray<u8>(0)); }
  breakers[h] = rt;
  breakerTables[h] = new StaticArray<i32>(rt.needs.list.length * 2);
  breakerFacts[h] = new StaticArray<u8>(0);
  setOut(rt.describe());
  return h;
}

export function tandem_breaker_release(h: i32): void {
  collectNow();
  if (h >= 0 && h < breakers.length) { breakers[h] = null; breakerTables[h] = new StaticArray<i32>(0); breakerFacts[h] = new StaticArray<u8>(0); }
}

export function tandem_breaker_fact_table(h: i32): usize {
  return changetype<usize>(breakerTables[h]);
}

export function tandem_breaker_facts(h: i32, size: i32): usize {
  gc(COLLECT_WEIGHT);
  let b = breakerFacts[h];
  if (b.length < size) { b = new StaticArray<u8>(size + (size >> 1)); breakerFacts[h] = b; }
  return changetype<usize>(b);
}

export function tandem_breaker_result_ptr(): usize {
  return changetype<usize>(breakerResult);
}

// @ts-ignore: decorator
@inline function breakerAt(h: i32): BreakerRuntime {
  if (<u32>h >= <u32>breakers.length) throw new RangeError("no breaker handle " + h.toString());
  return unchecked(breakers[h]) as BreakerRuntime;
}

// The breaker plan's facts: its table, offsets from its own fact buffer.
// @ts-ignore: decorator
@inline function breakerFactsOf(h: i32): TableFacts {
  return useTable(unchecked(breakerTables[h]), changetype<usize>(unchecked(breakerFacts[h])));
}

// One crossing for the breaker's access phase: the key from the plan's facts; then, on
// the same facts, whether the request is a CORS preflight (breaker/runtime.ts
// PREFLIGHT_*: the breaker lets it pass, neither admitted nor counted: CALL_PREFLIGHT;
// or the method is needed to tell: CALL_NEEDS_METHOD, put the facts again with it); when
// it is not, its admission at nowMs (`probing` as for tandem_breaker_allow). Returns the
// admission packed (CALL_*); the key's bytes are at R_KEY_PTR / R_KEY_LEN either way.
// `version`: the binding's number for its write of these facts (0: none given); facts
// of the version the plan's last admission derived from are not read again (the key,
// the preflight answer: ./breaker/runtime.ts admitDerived).
// Weight 0 (gc) when the facts are the version the plan's last admission derived from:
// then the key is the one that admission found (or created) and nothing is allocated;
// the collector's mark of the whole heap every COLLECT_DEBT calls was ~5% of an admit +
// record (issue 17).
export function tandem_breaker_admit(h: i32, nowMs: f64, probing: i32, version: u32): i32 {
  const rt = breakerAt(h);                 // (rooted in `breakers`: safe across a collection)
  if (version != 0 && version == rt.factsVersion) {
    gc(0);
    return rt.admitAgain(nowMs, probing);
  }
  gc(1);
  return rt.admitDerived(breakerFactsOf(h), version, nowMs, probing);
}

export function tandem_breaker_allow(h: i32, keyLen: i32, nowMs: f64, probing: i32): i32 {
  gc(1);
  return breakerAt(h).allow(changetype<usize>(arena), keyLen, nowMs, probing);
}

export function tandem_breaker_record(h: i32, keyLen: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
  gc(1);
  return breakerAt(h).record(changetype<usize>(arena), keyLen, flags, generation, status, error, latencyMs, nowMs);
}

// `ticket`: serial * TICKET_ENTRIES + entry (../contract.ts), an integer below 2^48.
// Weight 0 (gc): a record by ticket allocates nothing.
export function tandem_breaker_record_ticket(h: i32, ticket: f64, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
  gc(0);
  const serial = Math.floor(ticket * (1.0 / <f64>TICKET_ENTRIES));
  const entry = <i32>(ticket - serial * <f64>TICKET_ENTRIES);
  return breakerAt(h).recordTicket(entry, <u32>serial, flags, generation, status, error, latencyMs, nowMs);
}

// What answers a call whose upstream answered with `outcome` (OUTCOME_*), the request's
// method in arena[0..methodLen): FallbackKind (None: the upstream's answer passes).
export function tandem_breaker_on_outcome(h: i32, outcome: i32, methodLen: i32): i32 {
  gc(COLLECT_WEIGHT);
  return <i32>fallbackOnOutcome(breakerAt(h).settings.fallback, outcome, changetype<usize>(arena), methodLen);
}

// 1 when arena[0..len) is a gRPC content-type (../request/grpc.ts): tandem's answers to
// such a request are gRPC-shaped.
export function tandem_is_grpc(len: i32): i32 {
  gc(COLLECT_WEIGHT);
  return isGrpcContentType(changetype<usize>(arena), len) ? 1 : 0;
}

// A request's latency under gateway retries from its tries' facts (./breaker/tries.ts).
export function tandem_request_latency(firstTryStartMs: f64, lastTryStartMs: f64, lastTryMs: f64): f64 {
  return requestLatencyMs(firstTryStartMs, lastTryStartMs, lastTryMs);
}

export function tandem_breaker_state(h: i32, keyLen: i32): i32 {
  gc(COLLECT_WEIGHT);
  const st = breakerAt(h).state(changetype<usize>(arena), keyLen);
  return st === null ? -1 : <i32>st.state;
}

export function tandem_breaker_describe_state(h: i32, keyLen: i32): i32 {
  gc(COLLECT_WEIGHT);
  const st = breakerAt(h).state(changetype<usize>(arena), keyLen);
  if (st === null) return 0;
  setOut(describeState(st));
  return 1;
}

// ---- the cache fallback (./cache/), on a breaker handle whose fallback has a cache ----
//
//   n = tandem_cache_key(h)            the request's cache key from the breaker's fact
//                                      table, moved to arena[0..n); 0: not cached (why:
//                                      tandem_cache_why: 1 method, 2 Authorization, 3 too long)
//   s = tandem_cache_lookup(h, n, now, use) key arena[0..n) -> the entry's status (0: miss);
//                                      use 0: a look ahead (no LRU touch, not counted);
//                                      out = answer headers (pairs, CACHE_SLOTS[0] bytes)
//                                      then the body
//   r = tandem_cache_check(h, st, hn)  response head: status, headers (pairs) arena[0..hn)
//                                      -> 0 store it (buffer the body), else STORE_* reason
//   r = tandem_cache_store(h, n, st, hn, bn, now)  arena = key, headers, body -> 1 stored,
//                                      2 stored evicting another, < 0 not stored
//   tandem_cache_stats(h)              counts and bytes as JSON in out
const cacheResult = new StaticArray<i32>(4);

export function tandem_cache_result_ptr(): usize { return changetype<usize>(cacheResult); }

function cacheOf(h: i32): CacheRuntime | null {
  if (h < 0 || h >= breakers.length) return null;
  const b = breakers[h];
  return b === null ? null : b.cache;
}

export function tandem_cache_key(h: i32): i32 {
  gc(COLLECT_WEIGHT);
  const rt = breakerAt(h);
  const k = rt.cacheKey;
  if (k === null) return 0;
  rt.needs.begin(breakerFactsOf(h));
  const n = k.derive(rt.needs);
  if (n > 0) {
    arenaOf(n);
    memory.copy(changetype<usize>(arena), changetype<usize>(k.buf), <usize>n);
  }
  cacheResult[1] = k.why;
  return n;
}

export function tandem_cache_why(): i32 { return cacheResult[1]; }

export function tandem_cache_lookup(h: i32, keyLen: i32, nowMs: f64, use: i32): i32 {
  gc(COLLECT_WEIGHT);
  const c = cacheOf(h);
  if (c === null) return 0;
  const a = changetype<usize>(arena);
  if (!c.lookup(a, keyLen, keyHashA(a, keyLen), keyHashB(a, keyLen), nowMs, use != 0)) { outLen = 0; return 0; }
  const v = c.view;
  const ans = c.answer;
  const total = ans.headersLen + v.bodyLen;
  if (out.length < total) out = new StaticArray<u8>(total + 256);
  memory.copy(changetype<usize>(out), changetype<usize>(ans.headers), <usize>ans.headersLen);
  memory.copy(changetype<usize>(out) + <usize>ans.headersLen, v.bodyPtr, <usize>v.bodyLen);
  outLen = total;
  cacheResult[0] = ans.headersLen;
  return v.status;
}

export function tandem_cache_check(h: i32, status: i32, headersLen: i32): i32 {
  gc(COLLECT_WEIGHT);
  const c = cacheOf(h);
  if (c === null) return -1;
  return c.check(status, changetype<usize>(arena), headersLen).reason;
}

export function tandem_cache_store(h: i32, keyLen: i32, status: i32, headersLen: i32, bodyLen: i32, nowMs: f64): i32 {
  gc(COLLECT_WEIGHT);
  const c = cacheOf(h);
  if (c === null) return -1;
  const a = changetype<usize>(arena);
  const hp = a + <usize>keyLen;
  const st = c.check(status, hp, headersLen);
  if (st.reason != 0) return -100 - st.reason;
  return c.put(a, keyLen, keyHashA(a, keyLen), keyHashB(a, keyLen), status, hp, headersLen, st, hp + <usize>headersLen, bodyLen, nowMs);
}

export function tandem_cache_stats(h: i32): i32 {
  gc(COLLECT_WEIGHT);
  const c = cacheOf(h);
  const st = breakerAt(h).cacheStore;
  if (c === null || st === null) { setOut("null"); return 0; }
  setOut("{\"entries\":" + st.count.toString() + ",\"entryBytes\":" + st.entryBytes.toString() + ",\"indexBytes\":" + st.indexBytes.toString() +
    ",\"hits\":" + c.hits.toString() + ",\"misses\":" + c.misses.toString() + ",\"stores\":" + c.stores.toString() + ",\"evictions\":" + c.evictions.toString() + "}");
  return 1;
}

// ---- canary guards (./guard.ts): states in this module, per experiment handle ----
//
//   after tandem_experiment_decide: the result area (G_* slots) says which guard the
//   decision consulted (-1 none), its admission flags and generation, the guard's state
//   and whether the outcome is to be recorded (tracked);
//   tandem_experiment_guard_record(h, g, flags, generation, status, error, latencyMs, nowMs)
//   counts the outcome (error: ERROR_*, 4 = connect or reset) -> OUTCOME_*; the result
//   area then holds the guard's state (G_STATE) and whether it changed (G_TRANSITION);
//   tandem_experiment_guard_describe(h, g) puts the guard's state as JSON in out.
// (G_* slots: ../contract.ts)
const guardResult = new StaticArray<i32>(GUARD_SLOTS);

export function tandem_experiment_guard_result_ptr(): usize {
  return changetype<usize>(guardResult);
}

function guardState(h: i32, g: i32): BreakerState | null {
  if (h < 0 || h >= runtimes.length) return null;
  const rt = runtimes[h];
  if (rt === null || rt.gate === null || g < 0 || g >= rt.settings.guards.length) return null;
  return unchecked((rt.gate as LocalGuards).states[g]);
}

export function tandem_experiment_guard_record(h: i32, g: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
  gc(1);
  const st = guardState(h, g);
  if (st === null) return -1;
  const gen0 = st.generation;
  const outcome = ((runtimes[h] as ExperimentRuntime).gate as LocalGuards).record(g, flags, generation, status, error, latencyMs, nowMs);
  guardResult[G_GUARD] = g;
  guardResult[G_STATE] = <i32>st.state;
  guardResult[G_TRANSITION] = st.generation != gen0 ? 1 : 0;
  guardResult[G_REASON] = <i32>st.reason;
  return outcome;
}

export function tandem_experiment_guard_describe(h: i32, g: i32): i32 {
  gc(COLLECT_WEIGHT);
  const st = guardState(h, g);
  if (st === null) return 0;
  setOut(describeState(st));
  return 1;
}

// ---- tagging experiments (./tagging.ts), per experiment handle ----
//
//   the configure description's "tags": [{name, variants: [names]}] per tagging
//   experiment ([]: none, and the adapter skips the tags header altogether);
//   tandem_experiment_decide puts the x-tandem-experiments value in its decision text
//   (D_TAGS_LEN 0: out of scope); tandem_experiment_tag_variant / _reason /
//   _bucket(h, i) tell what tagging experiment i gave (explain).
const taggings = new Array<TaggingRuntime | null>(0);

function setTagging(h: i32, t: TaggingSettings | null): void {
  while (taggings.length <= h) taggings.push(null);
  taggings[h] = t !== null ? new TaggingRuntime(t) : null;
}

function taggingAt(h: i32): TaggingRuntime | null {
  return h >= 0 && h < taggings.length ? taggings[h] : null;
}

function describeTagging(t: TaggingSettings | null): string {
  let d = ",\"tags\":[";
  if (t !== null) {
    for (let i = 0; i < t.experiments.length; i++) {
      const e = t.experiments[i];
      d += (i > 0 ? ",{\"name\":\"" : "{\"name\":\"") + e.name + "\",\"variants\":[";
      for (let v = 0; v < e.variants.length; v++) d += (v > 0 ? ",\"" : "\"") + e.variants[v].name + "\"";
      d += "]}";
    }
  }
  return d + "]";
}

function decideTagging(h: i32, rt: ExperimentRuntime, d: ExperimentDecision, nowMs: f64): void {
  const t = taggingAt(h);
  if (t !== null) t.decide(rt, d, nowMs);
}

// Of the last decision, tagging experiment i: its variant index (-1: none), the reason
// (REASON_*: split, ramp or rule) and the bucket (-1: a rule's fixed variant).
export function tandem_experiment_tag_variant(h: i32, i: i32): i32 {
  const t = taggingAt(h);
  return t === null || t.len == 0 || i < 0 || i >= t.chosen.length ? -1 : t.chosen[i];
}
export function tandem_experiment_tag_reason(h: i32, i: i32): i32 {
  return (taggingAt(h) as TaggingRuntime).runtimes[i].decision.reason;
}
export function tandem_experiment_tag_bucket(h: i32, i: i32): i32 {
  return (taggingAt(h) as TaggingRuntime).runtimes[i].decision.bucket;
}

// ---- fault injection (./fault): handle-based, like the breaker ----
//
//   h = tandem_fault_configure(len)     plugin config JSON in the arena -> handle, plan JSON
//                                       in out (./fault/policy.ts), or -1 and the error
//   tandem_fault_fact_table(h)          2 x i32 per plan need: [arena offset, length or -1]
//   f = tandem_fault_decide(h, nowMs)   the fault that applies (-1 none); F_* slots of the
//                                       result area: delay ms, abort status, reason, strip,
//                                       needs entropy (decide again with the request id)
//   tandem_fault_why(h, i) / _delay_bucket / _abort_bucket: fault i in the last decision
//   tandem_fault_active(h, i, delta)    the adapter's count of fault i's delays in flight
const faultRuntimes = new Array<FaultRuntime | null>(0);
const faultTables = new Array<StaticArray<i32>>(0);
const faultResult = new StaticArray<i32>(FAULT_SLOTS);

export function tandem_fault_configure(len: i32): i32 {
  collectNow();
  const res = configureFaults(arenaText(len));
  const s = res.settings;
  if (s === null) { setOut(res.error); return -1; }
  const rt = new FaultRuntime(s);
  let h = -1;
  for (let i = 0; i < faultRuntimes.length; i++) if (faultRuntimes[i] === null) { h = i; break; }
  if (h < 0) { h = faultRuntimes.length; faultRuntimes.push(null); faultTables.push(new StaticArray<i32>(0)); }
  faultRuntimes[h] = rt;
  faultTables[h] = new StaticArray<i32>(s.needs.list.length * 2);
  setOut(describeFaults(s));
  return h;
}

function describeFaults(s: FaultSettings): string {
  let d = "{\"policy\":" + jsonText(s.policy) + ",\"clock\":" + (s.clock ? "true" : "false") + ",\"upstream\":" + (s.upstream ? "true" : "false") + ",\"faults\":[";
  for (let i = 0; i < s.faults.length; i++) {
    const f = s.faults[i];
    if (i > 0) d += ",";
    d += "{\"name\":\"" + f.name + "\",\"scope\":\"" + (f.scope == SCOPE_UPSTREAM ? "upstream" : "gateway") + "\",\"by\":\"" + (f.by == BY_USER ? "user" : "request") + "\"";
    d += ",\"delayMs\":" + (f.delayMs >= 0 ? f.delayMs.toString() : "null") + ",\"delayPercent\":" + formatBp(f.delayBp);
    d += ",\"abortStatus\":" + (f.abortStatus > 0 ? f.abortStatus.toString() : "null") + ",\"abortPercent\":" + formatBp(f.abortBp);
    d += ",\"maxActive\":" + (f.maxActive > 0 ? f.maxActive.toString() : "null");
    const rp = f.reply;
    if (rp !== null) {
      d += ",\"reply\":{\"body\":" + jsonText(rp.body) + ",\"contentType\":" + jsonText(rp.contentType) + ",\"headers\":{";
      for (let j = 0; j < rp.headers.length; j++) d += (j > 0 ? "," : "") + jsonText(rp.headers[j].name) + ":" + jsonText(rp.headers[j].value);
      d += "}}";
    } else d += ",\"reply\":null";
    d += "}";
  }
  d += "],\"strip\":[";
  for (let i = 0; i < s.stripSlots.length; i++) d += (i > 0 ? "," : "") + "\"" + s.needs.list[s.stripSlots[i]].name + "\"";
  d += "],\"needs\":[";
  for (let i = 0; i < s.needs.list.length; i++) {
    const n = s.needs.list[i];
    d += (i > 0 ? "," : "") + "{\"kind\":" + (<i32>n.kind).toString() + ",\"name\":\"" + n.name + "\"}";
  }
  return d + "]}";
}

export function tandem_fault_release(h: i32): void {
  collectNow();
  if (h >= 0 && h < faultRuntimes.length) { faultRuntimes[h] = null; faultTables[h] = new StaticArray<i32>(0); }
}

export function tandem_fault_fact_table(h: i32): usize {
  return changetype<usize>(faultTables[h]);
}

export function tandem_fault_result_ptr(): usize {
  return changetype<usize>(faultResult);
}

export function tandem_fault_decide(h: i32, nowMs: f64): i32 {
  gc(1);
  const rt = faultRuntimes[h] as FaultRuntime;
  const d = rt.decide(useTable(faultTables[h], changetype<usize>(arena)), nowMs);
  faultResult[F_FAULT] = d.fault;
  faultResult[F_DELAY_MS] = d.delayMs;
  faultResult[F_ABORT_STATUS] = d.abortStatus;
  faultResult[F_REASON] = d.reason;
  faultResult[F_STRIP] = d.strip ? 1 : 0;
  faultResult[F_NEEDS_ENTROPY] = d.needsEntropy ? 1 : 0;
  return d.fault;
}

export function tandem_fault_why(h: i32, i: i32): i32 {
  return (faultRuntimes[h] as FaultRuntime).why[i];
}
export function tandem_fault_delay_bucket(h: i32, i: i32): i32 {
  return (faultRuntimes[h] as FaultRuntime).delayBucket[i];
}
export function tandem_fault_abort_bucket(h: i32, i: i32): i32 {
  return (faultRuntimes[h] as FaultRuntime).abortBucket[i];
}

export function tandem_fault_active(h: i32, i: i32, delta: i32): i32 {
  const a = (faultRuntimes[h] as FaultRuntime).active;
  const n = max(0, a[i] + delta);
  a[i] = n;
  return n;
}
