// Envoy's answers to the core's fact needs (see wasm/core/request/facts.ts).
import { Bytes, utf8 } from "../core/text/bytes";
import { Fact, FactSource, Need, Needs } from "../core/request/facts";
import { eqAt } from "../core/text/scan";
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
  // Pairs mode, built by plan(): the header each need slot reads (empty: not a header)
  // and its signature (sig()), the slots chained by the name's length (byLen[len] and
  // next[slot]: a slot + 1, 0 ends the chain), and per request the needs' entries the
  // walk fills (Needs.provide). One walk over the pairs fills every header need with
  // its first value: per pair, a signature compared with the few needs of that name
  // length; bytes compared only when it is equal (in practice: a header some need reads).
  private names: StaticArray<StaticArray<u8>> = new StaticArray<StaticArray<u8>>(0);
  private sigs: StaticArray<u32> = new StaticArray<u32>(0);
  private byLen: StaticArray<i32> = new StaticArray<i32>(0);
  private next: StaticArray<i32> = new StaticArray<i32>(0);
  private entries: StaticArray<Bytes> = new StaticArray<Bytes>(0);
  // Headers the filter itself asks about (watch()), after the needs' slots: the walk
  // fills their entries too, so when it read the whole map (sawAll()) the filter knows
  // whether the client sent them without a host call of its own.
  private watched: StaticArray<StaticArray<u8>> = new StaticArray<StaticArray<u8>>(0);
  private watchedAt: i32 = 0;      // slot of watched[0] (the needs' count at plan())
  private complete: bool = false;  // this request's pairs read and walked to their end

  // Per request, before the decision (Needs.begin calls it too).
  begin(): void { this.fetched = false; this.complete = false; }

  // The filter's own headers to look for in the pairs (configure time; the next
  // request plans again).
  watch(names: StaticArray<StaticArray<u8>>): void {
    this.watched = names;
    this.plannedFor = null;
  }

  // Whether this request's whole header map was read (one pairs call, walked without
  // a fault): only then does watchedPresent() know.
  sawAll(): bool { return this.fetched && this.complete; }

  // Whether the client sent watched header `i` (meaningful only when sawAll()).
  watchedPresent(i: i32): bool {
    return unchecked(this.entries[this.watchedAt + i]).len >= 0;
  }

  plan(needs: Needs): void {
    const m = needs.list.length;
    const n = m + this.watched.length;
    const names = new StaticArray<StaticArray<u8>>(n);
    const sigs = new StaticArray<u32>(n);
    let longest = 0;
    for (let i = 0; i < n; i++) {
      const name = i < m ? headerName(needs.list[i]) : unchecked(this.watched[i - m]);
      names[i] = name;
      longest = max(longest, name.length);
      sigs[i] = sig(changetype<usize>(name), name.length);
    }
    const byLen = new StaticArray<i32>(longest + 1);
    const next = new StaticArray<i32>(n);
    for (let i = n - 1; i >= 0; i--) {
      const l = names[i].length;
      if (l == 0) continue;
      next[i] = byLen[l];
      byLen[l] = i + 1;
    }
    this.names = names;
    this.sigs = sigs;
    this.byLen = byLen;
    this.next = next;
    const entries = new StaticArray<Bytes>(n);
    for (let i = m; i < n; i++) entries[i] = new Bytes();   // the watched headers' own
    this.entries = entries;
    this.watchedAt = m;
  }

  // Watched header `i`'s first value this request (absent: len -1), after readAll().
  watchedValue(i: i32): Bytes {
    return unchecked(this.entries[this.watchedAt + i]);
  }

  // The whole request map, once per request (one host call): the walk fills every
  // planned header's entry. Bytes valid until releaseHeld().
  readAll(): void {
    if (this.fetched) return;
    this.fetched = true;
    getHeaderPairs(REQUEST_HEADERS, this.pairs);
    this.walk(this.plannedFor as Needs);
  }

  fetch(slot: i32, need: Need, out: Bytes): void {
    if (this.usePairs && unchecked(this.names[slot]).length > 0) {
      // the walk fills every header need's entry, `out` (this slot's) included
      this.readAll();
      return;
    }
    if (need.kind == Fact.ClientIp) { getProperty(SOURCE_ADDRESS, out); stripPort(out); return; }
    const name = unchecked(this.names[slot]);   // headerName(need), resolved by plan()
    if (name.length > 0) getHeader(REQUEST_HEADERS, name, out);
  }

  // The first value of every planned header in the pairs buffer: u32 count, then u32
  // name and value lengths per pair, then each name and value followed by a NUL
  // (proxy-wasm spec). Header names are lowercase in Envoy's maps, as are our needs'.
  // A malformed buffer: the headers not seen before the fault are absent.
  private walk(needs: Needs): void {
    const entries = this.entries;
    const m = this.watchedAt;
    for (let j = 0; j < m; j++) {
      if (unchecked(this.names[j]).length > 0) unchecked(entries[j] = needs.provide(j));
    }
    for (let j = m; j < entries.length; j++) unchecked(entries[j]).clear();
    const pairs = this.pairs;
    if (!pairs.present || pairs.len < 4) return;
    const base = pairs.ptr;
    const end = base + <usize>pairs.len;
    const n = load<u32>(base);
    let sizes = base + 4;
    let data = sizes + (<usize>n << 3);
    if (n > 10000 || data > end) return;
    const byLen = this.byLen;
    const longest = <usize>byLen.length - 1;
    for (let i: u32 = 0; i < n; i++) {
      const kl = <usize>load<u32>(sizes);
      const vl = <usize>load<u32>(sizes + 4);
      sizes += 8;
      if (data + kl + vl + 2 > end) return;
      let j = kl <= longest ? unchecked(byLen[<i32>kl]) - 1 : -1;
      if (j >= 0) {
        // every slot of that name length (two needs may read one header: both filled)
        const s = sig(data, <i32>kl);
        do {
          const e = unchecked(entries[j]);
          if (unchecked(this.sigs[j]) == s && e.len < 0 &&
              eqAt(data, changetype<usize>(unchecked(this.names[j])), <i32>kl, false)) {
            e.set(data + kl + 1, <i32>vl);
          }
          j = unchecked(this.next[j]) - 1;
        } while (j >= 0);
      }
      data += kl + vl + 2;
    }
    this.complete = true;
  }
}

const NONE = new StaticArray<u8>(0);

// @ts-ignore: decorator
@inline function isHost(n: StaticArray<u8>): bool {
  return n.length == 4 && load<u32>(changetype<usize>(n)) == 0x74736f68;   // "host", little-endian
}

// The request header a need reads; empty for the client address (a property).
// `host`: Envoy's codecs keep HTTP/1's Host header as :authority (HTTP/2 and 3 send
// :authority), so its map has no `host`; Kong's get_headers reports it as `host`.
function headerName(need: Need): StaticArray<u8> {
  switch (need.kind) {
    case Fact.Header: return isHost(need.nameBytes) ? AUTHORITY : need.nameBytes;
    case Fact.Path: return PATH;
    case Fact.Host: return AUTHORITY;
    case Fact.Method: return METHOD;
    case Fact.Entropy: return REQUEST_ID;
  }
  return NONE;
}

// A header name's first and last 4 bytes mixed (0 under 4 bytes: those compare bytes).
// @ts-ignore: decorator
@inline function sig(p: usize, n: i32): u32 {
  return n < 4 ? 0 : load<u32>(p) ^ rotl<u32>(load<u32>(p + n - 4), 7);
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
