// Settings of the cache fallback (spec.fallback[].cache), built once per configuration
// by ./config.ts. Defaults are issue 16's; bounds keep memory at most
// maxEntries x (maxBodyBytes + headers) plus the set index (./sets.ts, 20 bytes a slot).

export const DEFAULT_CACHE_MAX_ENTRIES = 1000;
export const MAX_CACHE_ENTRIES = 100000;
export const DEFAULT_CACHE_MAX_BODY = 65536;
export const MAX_CACHE_BODY = 1048576;          // 1 MiB per entry
export const DEFAULT_CACHE_TTL_MS = 300000;     // 5 minutes
export const MAX_CACHE_TTL_MS = 86400000;       // 1 day
export const MAX_VARY_HEADERS = 16;
// Stored response headers: at most this many fields and bytes (pairs encoding); a
// response with more is not stored (the entry must fit what both gateways can replay).
export const MAX_CACHE_HEADERS = 64;
export const MAX_CACHE_HEADER_BYTES = 16384;
// Statuses a response may be stored with: the heuristically cacheable ones of RFC 9110
// 15.1 except 206 (a partial answer cannot stand in for the whole).
export const CACHEABLE_STATUSES: StaticArray<i32> = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
export const DEFAULT_CACHE_STATUSES: StaticArray<i32> = [200, 203, 204, 301, 404];
export const DEFAULT_VARY: StaticArray<string> = ["accept", "accept-language"];

export const METHOD_GET = 1;
export const METHOD_HEAD = 2;

export class CacheSettings {
  methods: i32 = METHOD_GET | METHOD_HEAD;   // METHOD_* bits
  methodNames: Array<string> = ["GET", "HEAD"];
  maxEntries: i32 = DEFAULT_CACHE_MAX_ENTRIES;
  maxBodyBytes: i32 = DEFAULT_CACHE_MAX_BODY;
  ttlMs: f64 = DEFAULT_CACHE_TTL_MS;
  vary: Array<string> = ["accept", "accept-language"];   // lowercase, in key order
  statuses: Array<i32> = [200, 203, 204, 301, 404];
  statusOk: StaticArray<bool> = new StaticArray<bool>(600);
  authorized: bool = false;                  // cacheAuthorized
}
