// A model of Envoy's Http::HeaderMapImpl as seen through the Proxy-Wasm ABI
// (envoy source/common/http/header_map_impl.cc, source/extensions/common/wasm/context.cc):
// - keys are LowerCaseString: every add/replace/get/remove lowercases the key;
// - pseudo-headers (":path", ...) are kept in front of regular headers;
// - adding a second value for an *inline* header (":authority", "x-forwarded-for",
//   "content-type", ...) appends to the existing entry with "," (insertByKey/appendToHeader)
//   instead of creating a second entry; other headers get one entry per value;
// - get returns the FIRST entry (Context::getHeaderMapValue reads entry[0]);
// - setCopy (proxy_replace_header_map_value) overwrites the first entry in place and keeps
//   any further entries with the same name (HeaderMapImpl::setCopy, envoy#9221);
// - byteSize() is the sum of key and value lengths — what proxy_get_header_map_size returns.

import type { Pair } from './pairs.js';

export type HeaderMapKind = 'request' | 'response' | 'trailers' | 'other';

// O(1) inline headers (envoy/http/header_map.h INLINE_REQ_* / INLINE_RESP_* / INLINE_REQ_RESP_*,
// plus "referer" which the CEL context registers as a custom inline header).
const REQ_RESP_INLINE = [
  'connection',
  'content-type',
  'x-envoy-decorator-operation',
  'keep-alive',
  'proxy-connection',
  'proxy-status',
  'x-request-id',
  'transfer-encoding',
  'upgrade',
  'via',
  'content-length',
  'x-envoy-attempt-count',
];
const REQ_INLINE = new Set([
  ...REQ_RESP_INLINE,
  ':authority',
  ':method',
  ':path',
  ':protocol',
  ':scheme',
  'x-client-trace-id',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-external-address',
  'x-envoy-force-trace',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-internal',
  'x-envoy-ip-tags',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-original-path',
  'x-envoy-original-url',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-alt-response',
  'expect',
  'x-forwarded-client-cert',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'grpc-timeout',
  'te',
  'user-agent',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-max-retries',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-stream-duration-ms',
  'referer',
]);
const RESP_INLINE = new Set([
  ...REQ_RESP_INLINE,
  ':status',
  'date',
  'x-envoy-degraded',
  'x-envoy-immediate-health-check-fail',
  'x-envoy-ratelimited',
  'x-envoy-upstream-canary',
  'x-envoy-upstream-healthchecked-cluster',
  'x-envoy-upstream-service-time',
  'location',
  'server',
  'x-envoy-overloaded',
]);
const NO_INLINE = new Set<string>();

function inlineSet(kind: HeaderMapKind): Set<string> {
  return kind === 'request' ? REQ_INLINE : kind === 'response' ? RESP_INLINE : NO_INLINE;
}

export class HeaderMap {
  keys: string[] = [];
  values: string[] = [];
  private readonly inline: Set<string>;

  constructor(readonly kind: HeaderMapKind = 'other') {
    this.inline = inlineSet(kind);
  }

  /** Builds a map the way a codec would: keys lowercased, inline duplicates merged. */
  static fromPairs(pairs: readonly Pair[], kind: HeaderMapKind): HeaderMap {
    const m = new HeaderMap(kind);
    for (let i = 0; i < pairs.length; i++) m.add(pairs[i][0], pairs[i][1]);
    return m;
  }

  get size(): number {
    return this.keys.length;
  }

  private indexOf(lower: string): number {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === lower) return i;
    return -1;
  }

  /** First value (Envoy returns entry[0]); undefined when absent. */
  get(key: string): string | undefined {
    const i = this.indexOf(key.toLowerCase());
    return i < 0 ? undefined : this.values[i];
  }

  /** All values joined by "," (HeaderUtility::getAllOfHeaderAsString, used by route matching and CEL). */
  getAll(key: string): string | undefined {
    const lower = key.toLowerCase();
    let out: string | undefined;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] === lower) out = out === undefined ? this.values[i] : `${out},${this.values[i]}`;
    }
    return out;
  }

  has(key: string): boolean {
    return this.indexOf(key.toLowerCase()) >= 0;
  }

  private insert(lower: string, value: string): void {
    if (lower.charCodeAt(0) === 58 /* ':' */) {
      // Pseudo-headers go after the existing pseudo-headers and before any regular header.
      let at = 0;
      while (at < this.keys.length && this.keys[at].charCodeAt(0) === 58) at++;
      this.keys.splice(at, 0, lower);
      this.values.splice(at, 0, value);
    } else {
      this.keys.push(lower);
      this.values.push(value);
    }
  }

  /** addCopy: appends a value (inline headers merge with ",", "cookie" would use "; "). */
  add(key: string, value: string): void {
    const lower = key.toLowerCase();
    if (this.inline.has(lower)) {
      const i = this.indexOf(lower);
      if (i >= 0) {
        this.values[i] = this.values[i].length === 0 ? value : `${this.values[i]},${value}`;
        return;
      }
    }
    this.insert(lower, value);
  }

  /** setCopy: replace the first occurrence in place, or add. */
  setCopy(key: string, value: string): void {
    const lower = key.toLowerCase();
    const i = this.indexOf(lower);
    if (i >= 0) this.values[i] = value;
    else this.insert(lower, value);
  }

  /** Removes every entry with this key. */
  remove(key: string): void {
    const lower = key.toLowerCase();
    let w = 0;
    for (let r = 0; r < this.keys.length; r++) {
      if (this.keys[r] !== lower) {
        this.keys[w] = this.keys[r];
        this.values[w] = this.values[r];
        w++;
      }
    }
    this.keys.length = w;
    this.values.length = w;
  }

  clear(): void {
    this.keys.length = 0;
    this.values.length = 0;
  }

  byteSize(): number {
    let n = 0;
    for (let i = 0; i < this.keys.length; i++) n += this.keys[i].length + this.values[i].length;
    return n;
  }

  pairs(): Pair[] {
    const out: Pair[] = new Array(this.keys.length);
    for (let i = 0; i < this.keys.length; i++) out[i] = [this.keys[i], this.values[i]];
    return out;
  }

  /** Distinct keys in order (CEL map keys). */
  uniqueKeys(): string[] {
    return [...new Set(this.keys)];
  }
}
