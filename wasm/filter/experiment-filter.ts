// Root id `experiment`: the sticky weighted split on Envoy. Glue only: facts in
// through EnvoyFacts, the core decides, the decision goes out as header mutations.
// Changing a request header makes Envoy (ABI <= 0.2.1) clear the route cache, so
// the route matching on the variant header sees the new value.
import { CONTINUE, FilterRoot, FilterStream } from "./contexts";
import { ExperimentRuntime } from "../core/experiment/experiment";
import { configureExperiment } from "../core/policy";
import { Bytes, utf8 } from "../core/text/bytes";
import { EnvoyFacts, PAIRS_THRESHOLD } from "./facts";
import { Fact } from "../core/request/facts";
import {
  LOG_ERROR, LOG_INFO, REQUEST_HEADERS, RESPONSE_HEADERS, addHeader, getHeader, log, nowMs, pluginConfiguration, releaseHeld, removeHeader,
} from "./host";
import { EXPOSE_HEADER } from "../core/experiment/settings";
import { ERROR_NONE } from "../core/breaker/settings";
import { murmur3_32 } from "../core/hash/hash";
import { EnvoyGuards } from "./guard-store";
import { STATUS, outcomeAtLog, parseStatus, upstreamCalled } from "./outcome";
import { TaggingRuntime } from "../core/tagging/tagging";
import { decideTags, setTags } from "./tagging-filter";
import { faultLatency, readFaultMark } from "./fault-mark";

const SET_COOKIE = utf8("set-cookie");
const EXPOSE = utf8(EXPOSE_HEADER);
export const CONFIG_REJECTED = "tandem: experiment configuration rejected: ";
// "tandem: guard state of variant <name> <shared-data name>", one line per guard at configure.
export const GUARD_STATE_AT = "tandem: guard state of variant ";

export class ExperimentRoot extends FilterRoot {
  runtime: ExperimentRuntime | null = null;
  facts: EnvoyFacts = new EnvoyFacts();
  guards: EnvoyGuards | null = null;     // canary guard states in shared data
  tags: TaggingRuntime | null = null;    // spec.experiments
  scratch: Bytes = new Bytes();

  // Returning false makes Envoy reject this configuration and keep the previous one.
  onConfigure(size: u32): bool {
    const text = pluginConfiguration(size);
    const res = configureExperiment(text);
    const s = res.settings;
    if (s === null) {
      log(LOG_ERROR, CONFIG_REJECTED + res.error);
      return false;
    }
    const rt = new ExperimentRuntime(s);
    this.guards = null;
    if (s.guards.length > 0) {
      // The same text gives the same names in every worker VM (./guard-store.ts).
      const g = new EnvoyGuards(s.guards, murmur3_32(changetype<usize>(text), text.length << 1, 0x67726431));
      rt.gate = g;
      this.guards = g;
    }
    this.runtime = rt;
    const tags = res.tags;
    this.tags = tags !== null ? new TaggingRuntime(tags) : null;
    let headerNeeds = 0;
    for (let i = 0; i < s.needs.list.length; i++) if (s.needs.list[i].kind != Fact.ClientIp) headerNeeds++;
    this.facts.usePairs = headerNeeds >= PAIRS_THRESHOLD;
    log(LOG_INFO, "tandem: experiment " + s.name + " configured");
    // Where each guard's state lives (operators read it; `tandem simulate --via envoy` too).
    const g = this.guards;
    if (g !== null) {
      for (let i = 0; i < s.guards.length; i++) {
        log(LOG_INFO, GUARD_STATE_AT + unchecked(s.variants[s.guards[i].variant]).name + " " + g.stores[i].slotName(0));
      }
    }
    return true;
  }

  newStream(id: u32): FilterStream {
    return new ExperimentStream(id, this);
  }
}

class ExperimentStream extends FilterStream {
  setCookie: StaticArray<u8> | null = null;
  expose: StaticArray<u8> | null = null;   // owned by the settings: no copy
  // A canary guard tracks this request: where its state is and the admission, for
  // the outcome recorded in onLog (as the circuit-breaker filter records its own).
  guard: i32 = -1;
  guardFlags: i32 = 0;
  guardGeneration: u32 = 0;
  slot: i32 = 0;
  hashA: u32 = 0;
  hashB: u32 = 0;
  startMs: f64 = 0;
  firstByteMs: f64 = -1;
  status: i32 = -1;

  constructor(id: u32, public root: ExperimentRoot) { super(id); }

  onRequestHeaders(_n: u32, _eos: bool): u32 {
    const rt = this.root.runtime;
    if (rt === null) return CONTINUE;
    const s = rt.settings;
    this.root.facts.begin();
    const now = s.clock ? nowMs() : 0;
    const d = rt.decide(this.root.facts, now);
    const tagLen = decideTags(this.root.tags, rt, d, now);   // before any header changes
    if (d.guardTracked) {
      const store = unchecked((this.root.guards as EnvoyGuards).stores[d.guard]);
      this.guard = d.guard;
      this.guardFlags = d.guardFlags;
      this.guardGeneration = d.guardGeneration;
      this.slot = store.slot;
      this.hashA = store.hashA;
      this.hashB = store.hashB;
      this.startMs = now;
    }
    // Every client copy goes (the header is tandem's, even when no variant is set), then
    // the variant is added. Envoy's replace (HeaderMapImpl::setCopy = remove + addCopy since
    // Envoy 1.19, envoy#16209) would drop every copy too, but it cannot express "remove, add
    // nothing", and remove + add keeps that one path for both cases.
    removeHeader(REQUEST_HEADERS, s.variantHeaderBytes);
    if (d.variant >= 0) addHeader(REQUEST_HEADERS, s.variantHeaderBytes, unchecked(s.variants[d.variant]).nameBytes);
    if (d.stripOverride) removeHeader(REQUEST_HEADERS, s.overrideHeaderBytes);
    setTags(this.root.tags, tagLen);
    this.expose = d.expose;
    if (d.setCookieLen > 0) {
      const c = new StaticArray<u8>(d.setCookieLen);
      memory.copy(changetype<usize>(c), changetype<usize>(d.setCookie), d.setCookieLen);
      this.setCookie = c;
    }
    releaseHeld();
    return CONTINUE;
  }

  onResponseHeaders(_n: u32, _eos: bool): u32 {
    if (this.guard >= 0 && this.firstByteMs < 0) {
      this.firstByteMs = nowMs();
      const b = this.root.scratch;
      getHeader(RESPONSE_HEADERS, STATUS, b);
      this.status = parseStatus(b);
      releaseHeld();
    }
    const c = this.setCookie;
    if (c !== null) addHeader(RESPONSE_HEADERS, SET_COOKIE, c);
    const e = this.expose;
    if (e !== null) addHeader(RESPONSE_HEADERS, EXPOSE, e);
    return CONTINUE;
  }

  // The guarded call's outcome, as the circuit-breaker filter derives it: the status,
  // (0, ignored, when no upstream was called),
  // a transport error from response.flags (for 5xx or no response), latency to the
  // first response byte (else to the stream's end) on the host clock.
  onLog(): void {
    const gi = this.guard;
    const guards = this.root.guards;
    if (gi < 0 || guards === null) return;
    this.guard = -1;
    const o = outcomeAtLog(this.status);
    // Answered before any upstream was picked (a later filter's local reply, e.g. the
    // circuit breaker's): the variant was never called, the outcome says nothing about
    // it (Kong's log phase sees no tries: the same).
    if (o.error == ERROR_NONE && !upstreamCalled(this.root.scratch)) o.status = 0;
    // A fault that stands in for the upstream (scope: upstream) is its outcome.
    const m = readFaultMark(this.root.scratch);
    if (m.present && m.upstream && m.abortStatus > 0) { o.status = m.abortStatus; o.error = ERROR_NONE; }
    const end = this.firstByteMs >= 0 ? this.firstByteMs : nowMs();
    guards.record(gi, this.slot, this.hashA, this.hashB, this.guardFlags, this.guardGeneration, o.status, o.error, faultLatency(m, end - this.startMs), end);
  }
}
