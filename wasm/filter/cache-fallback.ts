// The cache fallback (spec.fallback[].cache) in the circuit-breaker filter: the filter
// moves bytes, the core decides (wasm/core/cache/: the key, whether a response may be
// stored and for how long, where it goes and what it evicts, whether an entry is fresh
// enough and the answer's headers with Age and x-tandem-fallback: cache). Entries live in
// shared data (./cache-store.ts), so every worker VM serves them.
//
// Per stream:
//   request headers   the key from the request's facts, copied (the request headers are
//                     out of reach later); none for methods the cache does not take or a
//                     request with Authorization (unless cacheAuthorized)
//   rejected / failed a servable entry answers (proxy_send_local_response: its status,
//                     headers, body); a miss leaves the case to the next fallback
//   response headers  the head (status, all headers in one host call) -> may it be
//                     stored? Only then is the body collected
//   response body     each frame is copied aside and let through at once (Continue): the
//                     client is not held back, and Envoy's stream buffer limit is never
//                     approached (a StopIterationAndBuffer body above it is a 500 / reset,
//                     filter_manager.cc ActiveStreamEncoderFilter::responseDataTooLarge).
//                     A body growing past maxBodyBytes is dropped (it streamed through, it
//                     is not stored); at end_of_stream the whole response is stored.
import { free } from "./host-memory";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { Bytes, utf8 } from "../core/text/bytes";
import { Needs } from "../core/request/facts";
import { CacheSettings } from "../core/cache/settings";
import { CacheKeyer } from "../core/cache/key";
import { CacheRuntime } from "../core/cache/runtime";
import { STORE_OK } from "../core/cache/rules";
import { EnvoyFacts, PAIRS_THRESHOLD } from "./facts";
import { SharedCacheStore } from "./cache-store";
import { RESPONSE_HEADERS, getHeaderPairs, releaseHeld, sendLocalResponse } from "./host";

const HTTP_RESPONSE_BODY = 1;   // proxy-wasm BufferType
import { DETAILS_CACHE } from "./reply-details";
const RET: usize = memory.data(8);
const EMPTY = new StaticArray<u8>(0);

export class FilterCache {
  needs: Needs;
  keyer: CacheKeyer;
  facts: EnvoyFacts = new EnvoyFacts();
  store: SharedCacheStore;
  runtime: CacheRuntime;
  private pairs: Bytes = new Bytes();

  constructor(public settings: CacheSettings, configId: u32) {
    const needs = new Needs();
    this.keyer = new CacheKeyer(settings, needs);
    needs.seal();
    this.needs = needs;
    const store = new SharedCacheStore(configId);
    this.store = store;
    this.runtime = new CacheRuntime(settings, store);
    this.facts.usePairs = needs.list.length >= PAIRS_THRESHOLD;
  }

  // The request's key (a copy; null: the request is neither looked up nor stored).
  requestKey(s: CacheStream): void {
    this.facts.begin();
    this.needs.begin(this.facts);
    const n = this.keyer.derive(this.needs);
    if (n > 0) {
      const k = new StaticArray<u8>(n);
      memory.copy(changetype<usize>(k), changetype<usize>(this.keyer.buf), <usize>n);
      s.key = k;
      s.hashA = this.keyer.hashA;
      s.hashB = this.keyer.hashB;
    }
    releaseHeld();
  }

  // A servable entry for the stream's key answers the request (a local reply): true.
  serve(s: CacheStream, nowMs: f64): bool {
    const k = s.key;
    if (k === null) return false;
    const rt = this.runtime;
    const hit = rt.lookup(changetype<usize>(k), k.length, s.hashA, s.hashB, nowMs);
    if (hit) {
      const v = rt.view;
      const a = rt.answer;
      sendLocalResponse(<u32>v.status, DETAILS_CACHE, v.bodyPtr, v.bodyLen, changetype<usize>(a.headers), a.headersLen);
    }
    this.store.release();
    return hit;
  }

  // The response head: whether to collect the body for storing (the core's rules).
  // `eos`: the response has no body, stored at once.
  responseHead(s: CacheStream, status: i32, eos: bool, nowMs: f64): void {
    if (s.key === null) return;
    const p = this.pairs;
    getHeaderPairs(RESPONSE_HEADERS, p);
    if (p.len > 0) {
      const st = this.runtime.check(status, p.ptr, p.len);
      if (st.reason == STORE_OK) {
        const h = new StaticArray<u8>(p.len);
        memory.copy(changetype<usize>(h), p.ptr, <usize>p.len);
        s.head = h;
        s.status = status;
        // The announced length sizes the buffer (a body over maxBodyBytes was refused).
        const cl = st.contentLength;
        s.body = new StaticArray<u8>(cl > 0 ? <i32>cl : 256);
        s.bodyLen = 0;
        s.storing = true;
      }
    }
    releaseHeld();
    if (s.storing && eos) this.finish(s, nowMs);
  }

  // One data frame of `size` bytes (the frame alone: the filter never buffers in Envoy).
  responseBody(s: CacheStream, size: i32, eos: bool, nowMs: f64): void {
    if (!s.storing) return;
    if (size > 0) {
      if (s.bodyLen + size > this.settings.maxBodyBytes) { s.drop(); return; }
      store<u32>(RET, 0);
      store<u32>(RET + 4, 0);
      if (imports.proxy_get_buffer_bytes(HTTP_RESPONSE_BODY, 0, <u32>size, RET, RET + 4) != 0) { s.drop(); return; }
      const p = <usize>load<u32>(RET);
      const n = <i32>load<u32>(RET + 4);
      s.append(p, n);
      if (p != 0) free(p);
    }
    if (eos) this.finish(s, nowMs);
  }

  private finish(s: CacheStream, nowMs: f64): void {
    const k = s.key as StaticArray<u8>;
    const h = s.head as StaticArray<u8>;
    const rt = this.runtime;
    // The rules again: their result object is shared by every stream of this VM.
    const st = rt.check(s.status, changetype<usize>(h), h.length);
    if (st.reason == STORE_OK) {
      rt.put(changetype<usize>(k), k.length, s.hashA, s.hashB, s.status, changetype<usize>(h), h.length, st,
        changetype<usize>(s.body), s.bodyLen, nowMs);
      this.store.release();
    }
    s.drop();
  }
}

// A stream's cache state (held by the breaker's stream context).
export class CacheStream {
  key: StaticArray<u8> | null = null;
  hashA: u32 = 0;
  hashB: u32 = 0;
  storing: bool = false;
  status: i32 = 0;
  head: StaticArray<u8> | null = null;
  body: StaticArray<u8> = EMPTY;
  bodyLen: i32 = 0;

  append(p: usize, n: i32): void {
    if (this.bodyLen + n > this.body.length) {
      const b = new StaticArray<u8>(max(this.body.length * 2, this.bodyLen + n));
      memory.copy(changetype<usize>(b), changetype<usize>(this.body), <usize>this.bodyLen);
      this.body = b;
    }
    memory.copy(changetype<usize>(this.body) + <usize>this.bodyLen, p, <usize>n);
    this.bodyLen += n;
  }

  drop(): void {
    this.storing = false;
    this.head = null;
    this.body = EMPTY;
    this.bodyLen = 0;
  }
}
