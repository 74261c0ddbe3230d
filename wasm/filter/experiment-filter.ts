// Root id `experiment`: the sticky weighted split on Envoy. Glue only: facts in
// through EnvoyFacts, the core decides, the decision goes out as header mutations.
// Changing a request header makes Envoy (ABI <= 0.2.1) clear the route cache, so
// the route matching on the variant header sees the new value.
import { CONTINUE, FilterRoot, FilterStream } from "./contexts";
import { ExperimentRuntime } from "../core/experiment";
import { configureExperiment } from "../core/policy";
import { utf8 } from "../core/bytes";
import { EnvoyFacts, PAIRS_THRESHOLD } from "./facts";
import { Fact } from "../core/facts";
import { LOG_ERROR, LOG_INFO, REQUEST_HEADERS, RESPONSE_HEADERS, addHeader, log, nowMs, pluginConfiguration, releaseHeld, removeHeader } from "./host";
import { EXPOSE_HEADER } from "../core/experiment-settings";

const SET_COOKIE = utf8("set-cookie");
const EXPOSE = utf8(EXPOSE_HEADER);
export const CONFIG_REJECTED = "tandem: experiment configuration rejected: ";

export class ExperimentRoot extends FilterRoot {
  runtime: ExperimentRuntime | null = null;
  facts: EnvoyFacts = new EnvoyFacts();

  // Returning false makes Envoy reject this configuration and keep the previous one.
  onConfigure(size: u32): bool {
    const res = configureExperiment(pluginConfiguration(size));
    const s = res.settings;
    if (s === null) {
      log(LOG_ERROR, CONFIG_REJECTED + res.error);
      return false;
    }
    this.runtime = new ExperimentRuntime(s);
    let headerNeeds = 0;
    for (let i = 0; i < s.needs.list.length; i++) if (s.needs.list[i].kind != Fact.ClientIp) headerNeeds++;
    this.facts.usePairs = headerNeeds >= PAIRS_THRESHOLD;
    log(LOG_INFO, "tandem: experiment " + s.name + " configured");
    return true;
  }

  newStream(id: u32): FilterStream {
    return new ExperimentStream(id, this);
  }
}

class ExperimentStream extends FilterStream {
  setCookie: StaticArray<u8> | null = null;
  expose: StaticArray<u8> | null = null;   // owned by the settings: no copy

  constructor(id: u32, public root: ExperimentRoot) { super(id); }

  onRequestHeaders(_n: u32, _eos: bool): u32 {
    const rt = this.root.runtime;
    if (rt === null) return CONTINUE;
    const s = rt.settings;
    this.root.facts.begin();
    const d = rt.decide(this.root.facts, s.rollout ? nowMs() : 0);
    // Remove every client copy first: Envoy's replace (HeaderMapImpl::setCopy) only
    // overwrites the first entry and keeps later duplicates, so a client sending the
    // header twice could smuggle its own variant past a plain replace.
    removeHeader(REQUEST_HEADERS, s.variantHeaderBytes);
    if (d.variant >= 0) addHeader(REQUEST_HEADERS, s.variantHeaderBytes, unchecked(s.variants[d.variant]).nameBytes);
    if (d.stripOverride) removeHeader(REQUEST_HEADERS, s.overrideHeaderBytes);
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
    const c = this.setCookie;
    if (c !== null) addHeader(RESPONSE_HEADERS, SET_COOKIE, c);
    const e = this.expose;
    if (e !== null) addHeader(RESPONSE_HEADERS, EXPOSE, e);
    return CONTINUE;
  }
}
