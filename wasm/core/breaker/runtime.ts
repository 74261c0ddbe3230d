// The `circuit-breaker` plugin for Node-side adapters (the Kong plugin, `tandem
// simulate --via core`): one configured Breaker (per-key states in a table, ./breaker/)
// plus what an adapter needs around it, all decided here so every path derives keys
// and answers alike:
//
//   key       which request facts name the breaker key (Needs, ./facts.ts) and the
//             derivation (below), identical to the Envoy filter's (wasm/filter/breaker-filter.ts)
//   allow     admission plus what answers a rejection (fallbackOnReject) and Retry-After
//   record    the outcome, with whether the call made the state change (transition)
//   preflight whether the request is a CORS preflight (../request/preflight.ts): the
//             breaker lets it pass untouched, in every mode, neither admitted nor counted
//   describe  a JSON plan built once at configure time: key, needs, mode, the fallback's
//             response (status, headers, body, content type) or reroute target, what
//             a reroute does (the variant header to set, the upstream to choose:
//             ./reroute.ts), and the default rejection answer, so the adapter answers
//             without building strings or deciding anything
//
// Key (circuitBreaker.key), from the request as the breaker sees it (after the
// experiment, which removes client copies of the variant header and sets its own):
//   upstream    the first value of `x-tandem-variant` when non-empty, else the Host
//               (Envoy: :authority), else the empty key
//   route       the empty key: one state for everything this plugin instance sees
//   header:<n>  the first value of header <n>, as sent; absent: the empty key
//
// Probes: the request's `upgrade` and `accept` headers (needs after the key's: the plan's
// `keyNeeds` says how many the key takes) tell a long-lived request
// (../request/long-lived.ts). allow's `probing` (PROBES_AT_HEADERS | FACTS_READ,
// ../contract.ts) says whether the adapter decides probes at the response headers (any
// request may probe) and whether it passed the headers; without them, a call that would
// probe answers NEEDS_FACTS (Kong: one get_headers more, in half-open only, for a key
// that needs no header).
import { Bytes } from "../text/bytes";
import { Fact, FactSource, Needs } from "../request/facts";
import { quote } from "../config/reader";
import { Breaker } from "./breaker";
import { BreakerTable } from "./keys";
import {
  BreakerMode, BreakerSettings, FallbackKind, FallbackSettings, KeyKind,
} from "./settings";
import { admitsAsIs, allow, classify, recordFlags, retryAfterSeconds, transportError } from "./machine";
import { effectsOnReject, fallbackOnReject } from "./fallback";
import { variantToUpstream } from "./upstream-names";
import { Reroute, describeReroute } from "./reroute";
import { BreakerState } from "./state";
import { ADMITTED, PERMITTED } from "../contract";
import { describeSettings, modeName } from "./describe";
import { jsonText } from "../json/write";
import { describeCache } from "../cache/describe";
import { CacheKeyer } from "../cache/key";
import { CacheRuntime } from "../cache/runtime";
import { LocalCacheStore } from "../cache/local";
import { CacheSettings } from "../cache/settings";
import { grpcMessage } from "../request/grpc";
import { isOptionsMethod } from "../request/preflight";
import { NEED_ON_DEMAND, PREFLIGHT_HEADER } from "../contract";

// preflight(): not one; one (pass it untouched); the method is needed to tell (an
// on-demand need the adapter left out: give it and ask again).
export const PREFLIGHT_NO = 0;
export const PREFLIGHT_YES = 1;
export const PREFLIGHT_NEEDS_METHOD = 2;
import { isLongLived } from "../request/long-lived";

// The header the `experiment` part sets, what answers a rejected call when no fallback
// applies (both gateways), and the result area (R_* i32 slots) the adapter reads after
// allow / record: ../contract.ts.
import {
  VARIANT_HEADER, REJECT_STATUS, REJECT_BODY, REJECT_CONTENT_TYPE, REJECT_GRPC_STATUS, R_FLAGS, R_GENERATION, R_STATE, R_PREV_STATE,
  R_TRANSITION, R_REASON, R_RETRY_AFTER, R_FALLBACK, R_OUTCOME, RESULT_SLOTS, OUTCOME_KEY_GONE,
  PROBES_AT_HEADERS, FACTS_READ, R_EFFECTS, R_REPLY_RETRY_AFTER, EFFECT_TRACK, EFFECT_RESPOND,
  R_KEY_PTR, R_KEY_LEN, R_TICKET_ENTRY, R_TICKET_SERIAL, OUTCOME_TICKET_STALE, CALL_EFFECTS_SHIFT, CALL_TRANSITION, CALL_PASS_SHIFT,
} from "../contract";
export { RESULT_SLOTS } from "../contract";

export class BreakerRuntime {
  breaker: Breaker;
  table: BreakerTable;     // breaker.table (one pointer hop less per call)
  needs: Needs = new Needs();
  keySlot: i32 = -1;       // header: the header; upstream: x-tandem-variant
  hostSlot: i32 = -1;      // upstream: the Host fallback
  preflightSlot: i32 = -1; // Access-Control-Request-Method
  methodSlot: i32 = -1;    // the method, on demand: read only when that header is present
  keyNeeds: i32 = 0;       // how many needs (the first) the key, the preflight test and the cache key take
  upgradeSlot: i32 = -1;   // long-lived request facts (../request/long-lived.ts)
  acceptSlot: i32 = -1;
  longLived: bool = false; // of the request deriveKey last saw
  key: Bytes = new Bytes();
  // What admitDerived() knows of the facts deriveKey last read: the binding's number for
  // that write of them (0: none; the same number = the same bytes in the same places,
  // so the same key, long-lived fact and preflight answer), the preflight answer, and
  // the table entry the key was found in with its serial there (0: look it up).
  factsVersion: u32 = 0;
  preflightAnswer: i32 = PREFLIGHT_NO;
  keyEntry: i32 = -1;
  keySerial: u32 = 0;
  // The cache fallback, when spec.fallback has one: its key facts join this runtime's
  // needs; entries live in this module instance (../cache/local.ts).
  cacheKey: CacheKeyer | null = null;
  cache: CacheRuntime | null = null;
  cacheStore: LocalCacheStore | null = null;
  // A reroute fallback's effects (./reroute.ts), set by the configuring call.
  reroute: Reroute | null = null;

  // `result`: where allow / record report (R_* slots); several runtimes may share one.
  constructor(public settings: BreakerSettings, seed: u32, public result: StaticArray<i32> = new StaticArray<i32>(RESULT_SLOTS)) {
    const b = new Breaker(settings, seed);
    this.breaker = b;
    this.table = b.table;
    const n = this.needs;
    if (settings.keyKind == KeyKind.Upstream) {
      this.keySlot = n.add(Fact.Header, VARIANT_HEADER);
      this.hostSlot = n.add(Fact.Host, "");
    } else if (settings.keyKind == KeyKind.Header) {
      this.keySlot = n.add(Fact.Header, settings.keyHeader);
    }
    this.preflightSlot = n.add(Fact.Header, PREFLIGHT_HEADER);
    this.methodSlot = n.add(Fact.Method, NEED_ON_DEMAND);
    const f = settings.fallback;
    if (f !== null && f.cache !== null) {
      const c = f.cache as CacheSettings;
      this.cacheKey = new CacheKeyer(c, n);
      const store = new LocalCacheStore(c);
      this.cacheStore = store;
      this.cache = new CacheRuntime(c, store);
    }
    this.keyNeeds = n.list.length;
    this.upgradeSlot = n.add(Fact.Header, "upgrade");
    this.acceptSlot = n.add(Fact.Header, "accept");
    n.seal();
  }

  // The request's key into this.key (a view of the facts, or empty).
  deriveKey(facts: FactSource): Bytes {
    const n = this.needs;
    this.factsVersion = 0;
    this.keySerial = 0;
    n.begin(facts);
    this.longLived = isLongLived(n.get(this.upgradeSlot), n.get(this.acceptSlot));
    const k = this.key;
    k.set(0, 0);
    if (this.keySlot < 0) return k;
    const v = n.get(this.keySlot);
    if (this.hostSlot < 0) {                  // header:<n>
      if (v.present) k.set(v.ptr, v.len);
      return k;
    }
    if (v.len > 0) {                                     // upstream: the variant's
      k.set(v.ptr, v.len);
      variantToUpstream(this.settings, k);
      return k;
    }
    const h = n.get(this.hostSlot);
    if (h.len > 0) k.set(h.ptr, h.len);                  // else the Host
    return k;
  }

  // After deriveKey, on the same request's facts: PREFLIGHT_*.
  preflight(): i32 {
    const n = this.needs;
    if (!n.get(this.preflightSlot).present) return PREFLIGHT_NO;
    const m = n.get(this.methodSlot);
    if (!m.present) return PREFLIGHT_NEEDS_METHOD;
    return isOptionsMethod(m.ptr, m.len) ? PREFLIGHT_YES : PREFLIGHT_NO;
  }

  // The request step on facts of the binding's write `version` (tandem_breaker_admit):
  // the key and the preflight answer derived from them, again only when they are not
  // the facts deriveKey read last; then, unless a preflight (returned: PREFLIGHT_*
  // << CALL_PASS_SHIFT), allow() of the key, found at the entry it was found last while
  // that entry holds it (BreakerTable.getAgain: what get() finds). The key's bytes are at
  // R_KEY_PTR / R_KEY_LEN either way.
  admitDerived(facts: FactSource, version: u32, nowMs: f64, probing: i32): i32 {
    if (version == 0 || version != this.factsVersion) {
      this.deriveKey(facts);
      this.preflightAnswer = this.preflight();
      this.factsVersion = version;
    }
    return this.admitAgain(nowMs, probing);
  }

  // admitDerived() on the facts deriveKey read last (the caller knows they are: the same
  // version; tandem_breaker_admit then does not even point the fact source at them).
  admitAgain(nowMs: f64, probing: i32): i32 {
    const k = this.key;
    const pf = this.preflightAnswer;
    if (pf != PREFLIGHT_NO) {
      const r = this.result;
      unchecked(r[R_KEY_PTR] = <i32>k.ptr);
      unchecked(r[R_KEY_LEN] = k.len);
      return pf << CALL_PASS_SHIFT;
    }
    const table = this.table;
    const st = table.getAgain(this.keyEntry, this.keySerial, k.ptr, k.len);
    const e = table.lastEntry;
    const serial = table.serialAt(e);
    this.keyEntry = e;
    this.keySerial = serial;
    return this.admitState(st, k.ptr, k.len, nowMs, probing);
  }

  // `probing`: PROBES_AT_HEADERS | FACTS_READ (above); the long-lived fact is the one
  // deriveKey read last. Returns the admission packed (../contract.ts CALL_*: flags,
  // effects, transition); the whole of it is in the result area.
  allow(ptr: usize, len: i32, nowMs: f64, probing: i32 = PROBES_AT_HEADERS): i32 {
    return this.admitState(this.breaker.table.get(ptr, len), ptr, len, nowMs, probing);
  }

  private admitState(st: BreakerState, ptr: usize, len: i32, nowMs: f64, probing: i32): i32 {
    const s = this.settings;
    const table = this.table;
    const e = table.lastEntry;
    const serial = table.serialAt(e);
    if (admitsAsIs(s, st)) return this.admitAsIs(st, ptr, len, e, serial);
    const b = this.breaker;
    const r = this.result;
    unchecked(r[R_KEY_PTR] = <i32>ptr);
    unchecked(r[R_KEY_LEN] = len);
    unchecked(r[R_TICKET_ENTRY] = e);
    unchecked(r[R_TICKET_SERIAL] = <i32>serial);
    const prev = st.state;
    const gen0 = st.generation;
    const probeOk = (probing & PROBES_AT_HEADERS) != 0 ? 1 : (probing & FACTS_READ) == 0 ? -1 : this.longLived ? 0 : 1;
    const a = allow(s, st, nowMs, b.admission, probeOk);
    unchecked(r[R_FLAGS] = a.flags);
    unchecked(r[R_GENERATION] = <i32>a.generation);
    unchecked(r[R_PREV_STATE] = <i32>prev);
    unchecked(r[R_STATE] = <i32>st.state);
    const moved = st.generation != gen0;
    unchecked(r[R_TRANSITION] = moved ? 1 : 0);
    unchecked(r[R_REASON] = <i32>st.reason);
    unchecked(r[R_RETRY_AFTER] = a.admitted ? -1 : retryAfterSeconds(a.retryAfterMs));
    unchecked(r[R_FALLBACK] = a.admitted ? 0 : <i32>fallbackOnReject(s.fallback));
    unchecked(r[R_OUTCOME] = -1);
    // The step's effects (../contract.ts EFFECT_*): a permitted call is tracked when
    // outcomes count; a rejected one gets the fallback's answer.
    const f = s.fallback;
    const fx = a.admitted ? (a.permitted && recordsOutcomes(s) ? EFFECT_TRACK : 0) : effectsOnReject(f);
    unchecked(r[R_EFFECTS] = fx);
    unchecked(r[R_REPLY_RETRY_AFTER] = a.admitted || ((fx & EFFECT_RESPOND) != 0 && !(f as FallbackSettings).retryAfter) ? -1 : unchecked(r[R_RETRY_AFTER]));
    return a.flags | (fx << CALL_EFFECTS_SHIFT) | (moved ? CALL_TRANSITION : 0);
  }

  // admitState() of a call allow() admits as it is (./machine.ts admitsAsIs): its
  // answer written without running allow(); the same slots, the same values. The key's
  // entry e (the table's lastEntry) and its serial there.
  private admitAsIs(st: BreakerState, ptr: usize, len: i32, e: i32, serial: u32): i32 {
    const r = this.result;
    unchecked(r[R_KEY_PTR] = <i32>ptr);
    unchecked(r[R_KEY_LEN] = len);
    unchecked(r[R_TICKET_ENTRY] = e);
    unchecked(r[R_TICKET_SERIAL] = <i32>serial);
    unchecked(r[R_FLAGS] = ADMITTED | PERMITTED);
    unchecked(r[R_GENERATION] = <i32>st.generation);
    unchecked(r[R_PREV_STATE] = <i32>st.state);
    unchecked(r[R_STATE] = <i32>st.state);
    unchecked(r[R_TRANSITION] = 0);
    unchecked(r[R_REASON] = <i32>st.reason);
    unchecked(r[R_RETRY_AFTER] = -1);
    unchecked(r[R_FALLBACK] = 0);
    unchecked(r[R_OUTCOME] = -1);
    unchecked(r[R_EFFECTS] = EFFECT_TRACK);       // recordsOutcomes: enforce and dry_run do
    unchecked(r[R_REPLY_RETRY_AFTER] = -1);
    return ADMITTED | PERMITTED | (EFFECT_TRACK << CALL_EFFECTS_SHIFT);
  }

  record(ptr: usize, len: i32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
    return this.recordState(this.breaker.table.find(ptr, len), flags, generation, status, error, latencyMs, nowMs);
  }

  // record() of the key a ticket names (../contract.ts: its entry, its serial there);
  // OUTCOME_TICKET_STALE, with nothing changed (the result area as for a key gone),
  // when that key has left the entry since: the adapter then records by the key
  // (record()), as it may have been admitted again since.
  recordTicket(entry: i32, serial: u32, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
    const st = this.table.atTicket(entry, serial);
    if (st === null) {
      this.recordState(null, flags, generation, status, error, latencyMs, nowMs);   // reports OUTCOME_KEY_GONE
      return OUTCOME_TICKET_STALE;
    }
    return this.recordState(st, flags, generation, status, error, latencyMs, nowMs);
  }

  private recordState(st: BreakerState | null, flags: i32, generation: u32, status: i32, error: i32, latencyMs: f64, nowMs: f64): i32 {
    const s = this.settings;
    error = transportError(s, error);
    const r = this.result;
    unchecked(r[R_FLAGS] = flags);
    unchecked(r[R_GENERATION] = <i32>generation);
    unchecked(r[R_RETRY_AFTER] = -1);
    unchecked(r[R_FALLBACK] = 0);
    unchecked(r[R_TRANSITION] = 0);
    unchecked(r[R_EFFECTS] = 0);
    unchecked(r[R_REPLY_RETRY_AFTER] = -1);
    const outcome = classify(s, status, error);
    if (st === null) {
      unchecked(r[R_STATE] = 0); unchecked(r[R_PREV_STATE] = 0); unchecked(r[R_REASON] = 0); unchecked(r[R_OUTCOME] = OUTCOME_KEY_GONE);
      return OUTCOME_KEY_GONE;
    }
    const prev = st.state;
    const gen0 = st.generation;
    recordFlags(s, st, flags, generation, outcome, latencyMs, nowMs);
    unchecked(r[R_PREV_STATE] = <i32>prev);
    unchecked(r[R_STATE] = <i32>st.state);
    unchecked(r[R_TRANSITION] = st.generation != gen0 ? 1 : 0);
    unchecked(r[R_REASON] = <i32>st.reason);
    unchecked(r[R_OUTCOME] = outcome);
    return outcome;
  }

  state(ptr: usize, len: i32): BreakerState | null {
    return this.breaker.state(ptr, len);
  }

  describe(): string {
    const s = this.settings;
    let d = "{\"policy\":" + jsonText(s.policy) + ",\"key\":" + quote(keyName(s)) + ",\"mode\":\"" + modeName(s.mode) + "\",\"keyNeeds\":" + this.keyNeeds.toString() + ",\"needs\":[";
    for (let i = 0; i < this.needs.list.length; i++) {
      const n = this.needs.list[i];
      if (i > 0) d += ",";
      d += "{\"kind\":" + (<i32>n.kind).toString() + ",\"name\":" + jsonText(n.name) + "}";
    }
    d += "],\"records\":" + (recordsOutcomes(s) ? "true" : "false");
    d += ",\"fallback\":" + describeFallbackPlan(s.fallback);
    d += ",\"reroute\":" + describeReroute(this.reroute);
    d += ",\"reject\":" + describeReject();
    d += ",\"settings\":" + describeSettings(s);
    return d + "}";
  }
}

// circuitBreaker.key as written back: upstream | route | header:<lowercase name>.
export function keyName(s: BreakerSettings): string {
  if (s.keyKind == KeyKind.Route) return "route";
  if (s.keyKind == KeyKind.Header) return "header:" + s.keyHeader;
  return "upstream";
}

// The answer to a rejection no fallback takes, as the plans describe replies.
export function describeReject(): string {
  return "{\"status\":" + REJECT_STATUS.toString() + ",\"headers\":{},\"body\":" + jsonText(REJECT_BODY) +
    ",\"contentType\":" + jsonText(REJECT_CONTENT_TYPE) + ",\"retryAfter\":true" +
    ",\"grpcStatus\":" + REJECT_GRPC_STATUS.toString() + ",\"grpcMessage\":" + jsonText(grpcMessage(REJECT_BODY)) + "}";
}

// withField: the policy plan's copy also names the respond / reroute item's field path
// (render cites it), "field": null without one.
export function describeFallbackPlan(f: FallbackSettings | null, withField: bool = false): string {
  if (f === null) return "null";
  let d = "{";
  if (f.kind == FallbackKind.Respond) {
    d += "\"kind\":\"respond\",\"status\":" + f.status.toString() + ",\"headers\":{";
    for (let i = 0; i < f.headers.length; i++) {
      if (i > 0) d += ",";
      d += jsonText(f.headers[i].name) + ":" + jsonText(f.headers[i].value);
    }
    d += "},\"body\":" + jsonText(f.body) + ",\"contentType\":" + jsonText(f.contentType);
    d += ",\"retryAfter\":" + (f.retryAfter ? "true" : "false");
    d += ",\"grpcStatus\":" + f.grpcStatus.toString() + ",\"grpcMessage\":" + jsonText(grpcMessage(f.body));
    d += ",\"variant\":null,\"upstream\":null";
  } else if (f.kind == FallbackKind.None) {
    d += "\"kind\":\"none\",\"variant\":null,\"upstream\":null";
  } else {
    d += "\"kind\":\"reroute\",\"variant\":" + (f.variant.length > 0 ? jsonText(f.variant) : "null");
    d += ",\"upstream\":" + (f.upstream.length > 0 ? jsonText(f.upstream) : "null");
  }
  d += ",\"onOpen\":" + (f.onOpen ? "true" : "false") + ",\"onUpstreamFailure\":" + (f.onUpstreamFailure ? "true" : "false");
  if (withField) d += ",\"field\":" + (f.field.length > 0 ? jsonText(f.field) : "null");
  const c = f.cache;
  if (c !== null) d += ",\"cache\":" + describeCache(c, f.cacheOnOpen, f.cacheOnUpstreamFailure);
  return d + "}";
}

// Forced modes neither change nor read the state from outcomes: adapters skip record().
export function recordsOutcomes(s: BreakerSettings): bool {
  return s.mode != BreakerMode.ForcedOpen && s.mode != BreakerMode.ForcedClosed;
}
