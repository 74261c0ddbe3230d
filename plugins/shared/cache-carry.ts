// The hand-off between the `fallback-cache` and `circuit-breaker` Kong plugins. They run
// in two plugin-server processes (one plugin per server), so what one knows reaches the
// other only through Kong: kong.ctx.shared, a per-request Lua table every plugin of the
// request sees (Kong 3.9 kong/runloop/plugin_servers/plugin.lua exposed_api
// "kong.ctx.shared.get" / "kong.ctx.shared.set": one RPC each).
//
// fallback-cache runs its access first (priority 795 > 790, kong/db/dao/plugins.lua
// sorts by PRIORITY descending; kong/init.lua execute_collecting_plugins_iterator runs
// access handlers in that order) and leaves the request's carry: the cache key (its
// response phase stores under it) and, when a servable entry exists, the answer. The
// breaker, on a rejection the cache covers (cache.on: open), reads it and exits with the
// answer; with no carry (no fallback-cache plugin, its server down, a miss) it exits with
// the next fallback as before. The breaker never hands a rejected request on: its exit
// ends access (kong.response.exit with ctx.delay_response: the first exit wins, later
// access handlers are skipped, flush_delayed_response clears buffered_proxying, so no
// upstream call and no response phase).
//
// Bytes travel as base64 (a Lua string sent back over msgpack may come back as a str
// that the JS decoder reads as UTF-8: binary bodies would not survive).
import type { HeaderPair } from "../../core-js/tandem-core";

export const CACHE_CARRY_FIELD = "tandem.cache";

export interface CacheCarry {
  policy: string;                 // the config's policy (a carry of another policy is ignored)
  key: string | null;             // base64 cache key; null: do not store this request's answer
  hit?: CachedAnswer;
}
export interface CachedAnswer { status: number; headers: HeaderPair[]; body: string }

// What kong.response.exit takes: repeated fields as arrays.
export function exitHeaders(pairs: ReadonlyArray<HeaderPair>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [n, v] of pairs) {
    const prev = out[n];
    out[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

// A carry as it came back from Kong (a Lua table: shapes are checked, not trusted).
export function readCarry(v: unknown, policy: string): CacheCarry | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const c = v as Record<string, unknown>;
  if (c.policy !== policy) return null;
  const key = typeof c.key === "string" ? c.key : null;
  const h = c.hit as Record<string, unknown> | undefined;
  let hit: CachedAnswer | undefined;
  if (h && typeof h === "object" && typeof h.status === "number" && typeof h.body === "string" && Array.isArray(h.headers)) {
    const headers = (h.headers as unknown[]).filter((p): p is HeaderPair => Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string");
    hit = { status: h.status, headers, body: h.body };
  }
  return { policy, key, ...(hit ? { hit } : {}) };
}
