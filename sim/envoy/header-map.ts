// A model of Envoy's Http::HeaderMapImpl as seen through the Proxy-Wasm ABI
// (envoy source/common/http/header_map_impl.cc, source/extensions/common/wasm/context.cc):
// - keys are LowerCaseString: every add/replace/get/remove lowercases the key;
// - pseudo-headers (":path", ...) are kept in front of regular headers;
// - adding a second value for an *inline* header (":authority", "x-forwarded-for",
//   "content-type", ...) appends to the existing entry with "," (insertByKey/appendToHeader)
//   instead of creating a second entry; other headers get one entry per value;
// - get returns the FIRST entry (Context::getHeaderMapValue reads entry[0]);
// - setCopy (proxy_replace_header_map_value → Context::replaceHeaderMapValue → setCopy) is
//   remove(key) then addCopy(key, value) in current Envoy (HeaderMapImpl::setCopy; the
//   pre-1.2x "overwrite the first entry, keep the rest" path and its runtime flag
//   http_set_copy_replace_all_headers are gone): every copy goes, one entry is added where
//   addCopy puts a new one (after the pseudo-headers for ":x", else last);
// - setInline is Envoy's typed inline setters (setContentLength, setStatus, ...:
//   HeaderMapImpl::setInline): the one inline entry changes in place;
// - byteSize() is the sum of key and value lengths — what proxy_get_header_map_size returns.

import { ENVOY_INLINE_REQ_RESP_HEADERS, ENVOY_INLINE_REQUEST_HEADERS } from '../../core-js/envoy-inline-headers.js';
import { listsSize, writeLists, type Pair } from './pairs.js';

export type HeaderMapKind = 'request' | 'response' | 'trailers' | 'other';

// O(1) inline headers: the request list is declared once in core-js/envoy-inline-headers.ts.
const REQ_RESP_INLINE = ENVOY_INLINE_REQ_RESP_HEADERS;
const REQ_INLINE = ENVOY_INLINE_REQUEST_HEADERS;
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

function inlineSet(kind: HeaderMapKind): ReadonlySet<string> {
  return kind === 'request' ? REQ_INLINE : kind === 'response' ? RESP_INLINE : NO_INLINE;
}

export class HeaderMap {
  // Parallel lists of lowercase names and values; read-only outside so that every change
  // goes through the methods below (which drop the codec's bytes, `wire`).
  private _keys: string[] = [];
  private _values: string[] = [];
  get keys(): readonly string[] { return this._keys; }
  get values(): readonly string[] { return this._values; }
  private readonly inline: ReadonlySet<string>;
  // The map's proxy-wasm pairs serialization as the codec produced it (see encoded()), or
  // null: any change drops it, and proxy_get_header_map_pairs then serializes the lists.
  private wire: Buffer | null = null;

  constructor(readonly kind: HeaderMapKind = 'other') {
    this.inline = inlineSet(kind);
  }

  /** Builds a map the way a codec would: keys lowercased, inline duplicates merged. */
  static fromPairs(pairs: readonly Pair[], kind: HeaderMapKind): HeaderMap {
    const m = new HeaderMap(kind);
    for (let i = 0; i < pairs.length; i++) m.add(pairs[i][0], pairs[i][1]);
    return m;
  }

  /**
   * A map the way Envoy's codec hands it to the filter chain: its header bytes already
   * exist before any filter runs (Envoy's HeaderString entries hold bytes, so
   * proxy_get_header_map_pairs is a copy of bytes it holds). The harness keeps strings for
   * its own API, so the bytes are made here, once per request, outside the filters' work;
   * streams take a clone() of it. The bytes are exactly writeLists' over keys and values.
   */
  static encoded(pairs: readonly Pair[], kind: HeaderMapKind): HeaderMap {
    const m = HeaderMap.fromPairs(pairs, kind);
    const wire = Buffer.allocUnsafe(listsSize(m._keys, m._values));
    writeLists(m._keys, m._values, wire, 0);
    m.wire = wire;
    return m;
  }

  /** A copy for one stream; it shares the codec's bytes until it changes. */
  clone(): HeaderMap {
    const m = new HeaderMap(this.kind);
    m._keys = this._keys.slice();
    m._values = this._values.slice();
    m.wire = this.wire;
    return m;
  }

  /** The pairs serialization when it is the codec's, unchanged; else null. */
  get encodedPairs(): Buffer | null {
    return this.wire;
  }

  get size(): number {
    return this._keys.length;
  }

  private indexOf(lower: string): number {
    const keys = this._keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === lower) return i;
    return -1;
  }

  /** First value (Envoy returns entry[0]); undefined when absent. */
  get(key: string): string | undefined {
    const i = this.indexOf(key.toLowerCase());
    return i < 0 ? undefined : this._values[i];
  }

  /** All values joined by "," (HeaderUtility::getAllOfHeaderAsString, used by route matching and CEL). */
  getAll(key: string): string | undefined {
    const lower = key.toLowerCase();
    let out: string | undefined;
    for (let i = 0; i < this._keys.length; i++) {
      if (this._keys[i] === lower) out = out === undefined ? this._values[i] : `${out},${this._values[i]}`;
    }
    return out;
  }

  has(key: string): boolean {
    return this.indexOf(key.toLowerCase()) >= 0;
  }

  private insert(lower: string, value: string): void {
    this.wire = null;
    if (lower.charCodeAt(0) === 58 /* ':' */) {
      // Pseudo-headers go after the existing pseudo-headers and before any regular header.
      let at = 0;
      while (at < this._keys.length && this._keys[at].charCodeAt(0) === 58) at++;
      this._keys.splice(at, 0, lower);
      this._values.splice(at, 0, value);
    } else {
      this._keys.push(lower);
      this._values.push(value);
    }
  }

  /** addCopy: appends a value (inline headers merge with ",", "cookie" would use "; "). */
  add(key: string, value: string): void {
    const lower = key.toLowerCase();
    if (this.inline.has(lower)) {
      const i = this.indexOf(lower);
      if (i >= 0) {
        // appendToHeader: an empty copy changes nothing; no "," after an empty value.
        if (value.length === 0) return;
        this.wire = null;
        this._values[i] = this._values[i].length === 0 ? value : `${this._values[i]},${value}`;
        return;
      }
    }
    this.insert(lower, value);
  }

  /** setCopy (HeaderMapImpl::setCopy): remove every copy, then addCopy one. */
  setCopy(key: string, value: string): void {
    this.remove(key);
    this.add(key, value);
  }

  /** An inline setter (HeaderMapImpl::setInline, e.g. setContentLength): the entry in place, or add. */
  setInline(key: string, value: string): void {
    const lower = key.toLowerCase();
    const i = this.indexOf(lower);
    this.wire = null;
    if (i >= 0) this._values[i] = value;
    else this.insert(lower, value);
  }

  /** Removes every entry with this key. */
  remove(key: string): void {
    const lower = key.toLowerCase();
    let w = 0;
    for (let r = 0; r < this._keys.length; r++) {
      if (this._keys[r] !== lower) {
        this._keys[w] = this._keys[r];
        this._values[w] = this._values[r];
        w++;
      }
    }
    if (w !== this._keys.length) this.wire = null;
    this._keys.length = w;
    this._values.length = w;
  }

  clear(): void {
    this.wire = null;
    this._keys.length = 0;
    this._values.length = 0;
  }

  byteSize(): number {
    let n = 0;
    for (let i = 0; i < this._keys.length; i++) n += this._keys[i].length + this._values[i].length;
    return n;
  }

  pairs(): Pair[] {
    const out: Pair[] = new Array(this._keys.length);
    for (let i = 0; i < this._keys.length; i++) out[i] = [this._keys[i], this._values[i]];
    return out;
  }

  /** Distinct keys in order (CEL map keys). */
  uniqueKeys(): string[] {
    return [...new Set(this._keys)];
  }
}
