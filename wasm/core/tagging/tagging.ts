// Tagging experiments (`spec.experiments`): experiments that do not route, only tag.
// Each assigns the routing experiment's user key a variant with its own seed, hash mode,
// rules and rollout (exactly what a routing experiment with those settings would give
// that key), and the request goes upstream with one header naming them all:
//   x-tandem-experiments: recs=B; pricing=A        (declared order)
// Per request: one bucket (and the entry's rules) per tagging experiment, bytes copied
// into a scratch buffer sized at configure time; nothing allocated.
import { ExperimentSettings } from "../experiment/settings";
import { ExperimentDecision, ExperimentRuntime } from "../experiment/experiment";
import { utf8 } from "../text/bytes";

export { TAGS_HEADER } from "../contract";
export const MAX_TAGGING = 32;

export class TaggingSettings {
  // "name=" for the first entry, "; name=" for the others: joined at configure time
  prefixes: StaticArray<StaticArray<u8>>;
  maxLen: i32 = 0;       // bytes of the longest header value: the scratch size
  clock: bool = false;   // some entry has a rollout: assignments depend on now

  constructor(public experiments: StaticArray<ExperimentSettings>) {
    const n = experiments.length;
    this.prefixes = new StaticArray<StaticArray<u8>>(n);
    for (let i = 0; i < n; i++) {
      const e = experiments[i];
      const p = utf8((i > 0 ? "; " : "") + e.name + "=");
      this.prefixes[i] = p;
      let longest = 0;
      for (let v = 0; v < e.variants.length; v++) longest = max(longest, e.variants[v].nameBytes.length);
      this.maxLen += p.length + longest;
      if (e.clock) this.clock = true;
    }
  }
}

export class TaggingRuntime {
  runtimes: StaticArray<ExperimentRuntime>;
  chosen: StaticArray<i32>;        // variant index per entry, of the last decision
  value: StaticArray<u8>;          // the header value of the last decision ...
  len: i32 = 0;                    // ... its length; 0: no header (out of scope)

  constructor(public settings: TaggingSettings) {
    const es = settings.experiments;
    const rts = new StaticArray<ExperimentRuntime>(es.length);
    for (let i = 0; i < es.length; i++) rts[i] = new ExperimentRuntime(es[i]);
    this.runtimes = rts;
    this.chosen = new StaticArray<i32>(es.length);
    this.value = new StaticArray<u8>(settings.maxLen);
  }

  // After the routing experiment decided `d` (its runtime `rt`): the tags for its key,
  // read while the request's facts are still cached (rules of an entry read the same
  // facts). Returns the header value's length, 0 out of scope.
  decide(rt: ExperimentRuntime, d: ExperimentDecision, nowMs: f64): i32 {
    this.len = 0;
    if (!d.inScope) return 0;
    const key = rt.key;
    const base = changetype<usize>(this.value);
    let at = base;
    const rts = this.runtimes;
    for (let i = 0; i < rts.length; i++) {
      const e = unchecked(rts[i]);
      const v = e.assign(key, nowMs);
      unchecked(this.chosen[i] = v);
      const p = unchecked(this.settings.prefixes[i]);
      memory.copy(at, changetype<usize>(p), p.length);
      at += p.length;
      const name = unchecked(e.settings.variants[v]).nameBytes;
      memory.copy(at, changetype<usize>(name), name.length);
      at += name.length;
    }
    this.len = <i32>(at - base);
    return this.len;
  }
}
