// Envoy's answers to the core's fact needs (see wasm/core/facts.ts).
import { Bytes, utf8 } from "../core/bytes";
import { Fact, FactSource, Need } from "../core/facts";
import { REQUEST_HEADERS, getHeader, getHeaderPairs, getProperty } from "./host";

const PATH = utf8(":path");
const AUTHORITY = utf8(":authority");
const METHOD = utf8(":method");
// Envoy sets x-request-id (a UUID) on every request unless configured otherwise.
const REQUEST_ID = utf8("x-request-id");
const SOURCE_ADDRESS = utf8("source\0address");

// A policy that reads at least this many headers fetches them all with one host call
// (proxy_get_header_map_pairs) and looks them up in wasm: one boundary crossing instead
// of one per header (rules with many conditions).
export const PAIRS_THRESHOLD = 4;

export class EnvoyFacts extends FactSource {
  usePairs: bool = false;          // set at configure time from the policy's needs
  private pairs: Bytes = new Bytes();
  private fetched: bool = false;

  // Per request, before the decision.
  begin(): void { this.fetched = false; }

  private header(name: StaticArray<u8>, out: Bytes): void {
    if (!this.usePairs) { getHeader(REQUEST_HEADERS, name, out); return; }
    if (!this.fetched) { getHeaderPairs(REQUEST_HEADERS, this.pairs); this.fetched = true; }
    findPair(this.pairs, name, out);
  }

  fetch(slot: i32, need: Need, out: Bytes): void {
    switch (need.kind) {
      case Fact.Header: this.header(need.nameBytes, out); break;
      case Fact.Path: this.header(PATH, out); break;
      case Fact.Host: this.header(AUTHORITY, out); break;
      case Fact.Method: this.header(METHOD, out); break;
      case Fact.Entropy: this.header(REQUEST_ID, out); break;
      case Fact.ClientIp: getProperty(SOURCE_ADDRESS, out); stripPort(out); break;
    }
  }
}

// The first value of header `name` in a pairs buffer: u32 count, then u32 name and value
// lengths per pair, then each name and value followed by a NUL (proxy-wasm spec). Header
// names are lowercase in Envoy's maps, as are our needs'. A malformed buffer: absent.
function findPair(pairs: Bytes, name: StaticArray<u8>, out: Bytes): void {
  out.clear();
  if (!pairs.present || pairs.len < 4) return;
  const base = pairs.ptr;
  const end = base + <usize>pairs.len;
  const n = load<u32>(base);
  let sizes = base + 4;
  let data = sizes + (<usize>n << 3);
  if (n > 10000 || data > end) return;
  const nl = name.length;
  for (let i: u32 = 0; i < n; i++) {
    const kl = <usize>load<u32>(sizes);
    const vl = <usize>load<u32>(sizes + 4);
    sizes += 8;
    if (data + kl + vl + 2 > end) return;
    if (<i32>kl == nl && memory.compare(data, changetype<usize>(name), kl) == 0) {
      out.set(data + kl + 1, <i32>vl);
      return;
    }
    data += kl + vl + 2;
  }
}

// "10.0.0.1:5555" -> "10.0.0.1", "[::1]:5555" -> "::1": Kong's client.get_ip() has no port.
function stripPort(b: Bytes): void {
  if (!b.present || b.len == 0) return;
  const p = b.ptr;
  if (load<u8>(p) == 0x5b) {
    let i = 1;
    while (i < b.len && load<u8>(p + i) != 0x5d) i++;
    b.set(p + 1, i - 1);
    return;
  }
  let colons = 0;
  let last = -1;
  for (let i = 0; i < b.len; i++) if (load<u8>(p + i) == 0x3a) { colons++; last = i; }
  if (colons == 1) b.len = last;
}
