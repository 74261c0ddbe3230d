// A stored response, as bytes: the same layout in Envoy's shared data and in the Node
// core's memory, written and read only here. Little endian:
//    0 u8  version        1 u8 -         2 u16 status
//    4 u32 key length     8 u32 headers length (pairs list)   12 u32 body length
//   16 f64 stored at (ms, the adapter's clock)   24 f64 served until (ms)
//   32 u32 the upstream's Age (s)                36 u32 -
//   40 key, headers, body
// The key is kept whole so a hash collision never serves another request's answer.
import { PairsReader, PairsWriter } from "./pairs";
import { dropped } from "./rules";
import { Storability } from "./rules";
import { AGE_HEADER, CACHE_HEADER, CACHE_HEADER_VALUE } from "../contract";
import { ANSWER_HEADER, ANSWER_FALLBACK } from "../metrics/catalog";
import { utf8 } from "../text/bytes";

export const ENTRY_VERSION: u8 = 1;
export const ENTRY_HEAD = 40;
const AGE = utf8(AGE_HEADER);
const FALLBACK = utf8(CACHE_HEADER);
const FALLBACK_VALUE = utf8(CACHE_HEADER_VALUE);
// who answered (../metrics/catalog.ts ANSWER_HEADER): tandem's fallback, as on its other replies
const ANSWER = utf8(ANSWER_HEADER);
const ANSWER_VALUE = utf8(ANSWER_FALLBACK);

export function buildEntry(key: usize, keyLen: i32, status: i32, hp: usize, hn: i32, st: Storability, body: usize, bodyLen: i32, nowMs: f64): StaticArray<u8> {
  const headersLen = PairsWriter.size(st.keptCount, st.keptBytes);
  const e = new StaticArray<u8>(ENTRY_HEAD + keyLen + headersLen + bodyLen);
  const b = changetype<usize>(e);
  store<u8>(b, ENTRY_VERSION);
  store<u16>(b + 2, <u16>status);
  store<u32>(b + 4, <u32>keyLen);
  store<u32>(b + 8, <u32>headersLen);
  store<u32>(b + 12, <u32>bodyLen);
  store<f64>(b + 16, nowMs);
  store<f64>(b + 24, nowMs + st.lifetimeMs);
  store<u32>(b + 32, <u32>min<i64>(st.initialAgeS, 0xffffffff));
  memory.copy(b + ENTRY_HEAD, key, <usize>keyLen);
  const w = new PairsWriter();
  w.begin(e, ENTRY_HEAD + keyLen, st.keptCount);
  const rd = new PairsReader();
  rd.reset(hp, hn);
  while (rd.next()) if (!dropped(rd.namePtr, rd.nameLen)) w.add(rd.namePtr, rd.nameLen, rd.valuePtr, rd.valueLen);
  memory.copy(b + <usize>(ENTRY_HEAD + keyLen + headersLen), body, <usize>bodyLen);
  return e;
}

// A view of an entry's bytes (Envoy: the shared-data copy the host malloc'ed; Node: the
// stored array).
export class EntryView {
  ptr: usize = 0;
  len: i32 = 0;

  // False when the bytes are not an entry of this version for `key`.
  of(p: usize, n: i32, key: usize, keyLen: i32): bool {
    this.ptr = p; this.len = n;
    if (n < ENTRY_HEAD || load<u8>(p) != ENTRY_VERSION) return false;
    const kl = <i32>load<u32>(p + 4);
    if (kl != keyLen || <i64>ENTRY_HEAD + kl + this.headersLen + this.bodyLen != <i64>n) return false;
    return memory.compare(p + ENTRY_HEAD, key, <usize>keyLen) == 0;
  }
  get status(): i32 { return <i32>load<u16>(this.ptr + 2); }
  get keyLen(): i32 { return <i32>load<u32>(this.ptr + 4); }
  get headersLen(): i32 { return <i32>load<u32>(this.ptr + 8); }
  get bodyLen(): i32 { return <i32>load<u32>(this.ptr + 12); }
  get storedMs(): f64 { return load<f64>(this.ptr + 16); }
  get untilMs(): f64 { return load<f64>(this.ptr + 24); }
  get headersPtr(): usize { return this.ptr + ENTRY_HEAD + <usize>this.keyLen; }
  get bodyPtr(): usize { return this.headersPtr + <usize>this.headersLen; }
  // Served while now is before the end of its lifetime (and not before it was stored:
  // a clock that went back does not make an entry younger than zero).
  servable(nowMs: f64): bool { return nowMs < this.untilMs; }
  // RFC 9111 4.2.3, simplified for a cache that stored the response on arrival: the
  // upstream's Age plus the whole seconds since.
  ageSeconds(nowMs: f64): i64 {
    const resident = max<f64>(0, nowMs - this.storedMs);
    return <i64>load<u32>(this.ptr + 32) + <i64>Math.floor(resident / 1000);
  }
}

// The answer to serve from an entry: its headers plus Age and x-tandem-fallback: cache,
// as a pairs list (what proxy_send_local_response takes; the Node side decodes it).
export class Answer {
  headers: StaticArray<u8> = new StaticArray<u8>(1024);
  headersLen: i32 = 0;
  private w: PairsWriter = new PairsWriter();
  private rd: PairsReader = new PairsReader();

  build(e: EntryView, nowMs: f64): void {
    const age = utf8(e.ageSeconds(nowMs).toString());
    const rd = this.rd;
    rd.reset(e.headersPtr, e.headersLen);
    const count = rd.count + 3;
    const size = e.headersLen + 8 * 3 + AGE.length + age.length + FALLBACK.length + FALLBACK_VALUE.length + ANSWER.length + ANSWER_VALUE.length + 6;
    if (this.headers.length < size) this.headers = new StaticArray<u8>(size + 256);
    const w = this.w;
    w.begin(this.headers, 0, count);
    while (rd.next()) w.add(rd.namePtr, rd.nameLen, rd.valuePtr, rd.valueLen);
    w.add(changetype<usize>(AGE), AGE.length, changetype<usize>(age), age.length);
    w.add(changetype<usize>(FALLBACK), FALLBACK.length, changetype<usize>(FALLBACK_VALUE), FALLBACK_VALUE.length);
    w.add(changetype<usize>(ANSWER), ANSWER.length, changetype<usize>(ANSWER_VALUE), ANSWER_VALUE.length);
    this.headersLen = w.end;
  }
}
