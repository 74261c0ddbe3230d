// Request facts: what the core may ask a gateway about a request. Adapters translate
// these into gateway calls (Envoy: header map reads and properties; Kong: one
// get_headers RPC plus only the calls a policy needs). The core lists its needs at
// configure time, so adapters build their fetch plan once, not per request.
import { Bytes, utf8 } from "../text/bytes";

// Fact kinds (Header, Path, Host, Method, ClientIp, Entropy): ../contract.ts.
export { Fact } from "../contract";
import { Fact } from "../contract";

export class Need {
  nameBytes: StaticArray<u8>;
  constructor(public kind: Fact, public name: string) {
    this.nameBytes = utf8(name);
  }
}

// The gateway side of fact reading. `fetch` fills `out` (len -1 when absent). `plan`
// runs before the first request of a configuration (Needs.begin sees needs this source
// has not planned for): an adapter that reads many facts in one host call indexes the
// needs there, not per request. `begin` starts each request (Needs.begin): such an
// adapter forgets the last request's facts there.
export abstract class FactSource {
  plannedFor: Needs | null = null;
  plannedSize: i32 = 0;
  abstract fetch(slot: i32, need: Need, out: Bytes): void;
  plan(needs: Needs): void {}
  begin(): void {}
}

// Needs of one configured policy part, deduplicated, plus a per-request cache so
// each fact is fetched at most once per request (one host call each on Envoy).
export class Needs {
  list: Array<Need> = new Array<Need>(0);
  private cache: StaticArray<Bytes> = new StaticArray<Bytes>(0);
  private fetched: StaticArray<bool> = new StaticArray<bool>(0);
  source: FactSource | null = null;

  add(kind: Fact, name: string): i32 {
    for (let i = 0; i < this.list.length; i++) {
      const n = this.list[i];
      if (n.kind == kind && n.name == name) return i;
    }
    this.list.push(new Need(kind, name));
    return this.list.length - 1;
  }

  // Called once after configuration: sizes the per-request cache.
  seal(): void {
    const n = this.list.length;
    this.cache = new StaticArray<Bytes>(n);
    this.fetched = new StaticArray<bool>(n);
    for (let i = 0; i < n; i++) this.cache[i] = new Bytes();
  }

  // Counts requests (begin calls): lets a reader cache what it derived from a fact for
  // the rest of the request (rules/rules.ts: the normalized path).
  request: u32 = 0;

  begin(source: FactSource): void {
    if (++this.request == 0) this.request = 1;   // 0 stays "no request yet"
    this.source = source;
    if (source.plannedFor !== this || source.plannedSize != this.list.length) {
      source.plannedFor = this;
      source.plannedSize = this.list.length;
      source.plan(this);
    }
    source.begin();
    for (let i = 0; i < this.fetched.length; i++) unchecked(this.fetched[i] = false);
  }

  get(slot: i32): Bytes {
    const b = unchecked(this.cache[slot]);
    if (!unchecked(this.fetched[slot])) {
      unchecked(this.fetched[slot] = true);
      b.clear();
      (this.source as FactSource).fetch(slot, unchecked(this.list[slot]), b);
    }
    return b;
  }

  // For a source that reads many facts at once (Envoy: every header in one host call):
  // slot's entry, marked fetched and absent, for the source to fill this request.
  provide(slot: i32): Bytes {
    unchecked(this.fetched[slot] = true);
    const b = unchecked(this.cache[slot]);
    b.clear();
    return b;
  }

  // get(), inlined where a rule set reads its (mostly cached) facts many times a request.
  // @ts-ignore: decorator
  @inline getCached(slot: i32): Bytes {
    return unchecked(this.fetched[slot]) ? unchecked(this.cache[slot]) : this.get(slot);
  }
}
