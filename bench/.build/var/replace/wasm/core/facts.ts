// Request facts: what the core may ask a gateway about a request. Adapters translate
// these into gateway calls (Envoy: header map reads and properties; Kong: one
// get_headers RPC plus only the calls a policy needs). The core lists its needs at
// configure time, so adapters build their fetch plan once, not per request.
import { Bytes, utf8 } from "./bytes";

export const enum Fact {
  Header = 0,   // a request header by lowercase name; repeated values: see docs/adapters.md
  Path = 1,     // the request target: path and query string, as sent (":path")
  Host = 2,     // the Host / :authority header, port included
  Method = 3,
  ClientIp = 4, // the downstream peer address, without port
  Entropy = 5,  // per-request random bytes the gateway already has (x-request-id / Kong request id)
}

export class Need {
  nameBytes: StaticArray<u8>;
  constructor(public kind: Fact, public name: string) {
    this.nameBytes = utf8(name);
  }
}

// The gateway side of fact reading. `fetch` fills `out` (len -1 when absent).
export abstract class FactSource {
  abstract fetch(slot: i32, need: Need, out: Bytes): void;
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

  begin(source: FactSource): void {
    this.source = source;
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
}
