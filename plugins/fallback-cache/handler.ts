// Kong plugin `fallback-cache`: the Kong half of the cache fallback (spec.fallback[].cache,
// issue 16). Opt-in and separate from `circuit-breaker` because storing an answer needs
// its body, and a body is only readable in the `response` phase, which makes Kong buffer
// every response of the route through this plugin (Kong 3.9 kong/runloop/plugins_iterator.lua
// get_next_and_collect sets ctx.buffered_proxying for a plugin with a response handler;
// kong/init.lua Kong.access then calls Kong.response, which reads the whole upstream
// answer with ngx.location.capture("/kong_buffered_http") before anything reaches the
// client). The breaker stays non-buffering; docs/performance.md has the cost.
//
// Thin: the core derives the key, decides what may be stored and for how long, places
// and evicts entries and builds the answer (wasm/core/cache/, the same CacheKeyer,
// StorageRules and CacheRuntime the Envoy filter calls). Entries live in this plugin
// server's process memory (wasm/core/cache/local.ts), one store per configuration,
// shared by every Kong worker of the node; bounds are the config's (maxEntries x
// maxBodyBytes plus the index).
//
// Config: the circuit-breaker plugin's own (tandem render writes the same one), so the
// core reads the same cache settings and derives the same keys; the breaker fields only
// configure a breaker handle that is never asked to admit.
//
// RPC round trips (HandleEvent included):
//   access    1 + get_method; a method the cache takes: + get_headers + get_path_with_query
//             + ctx.shared.set (the carry: the key, and the answer when an entry is
//             servable) = 5. Other methods: 2.
//   response  1 + ctx.shared.get + service.response.get_status + get_headers
//             (+ get_raw_body when the core's rules take the head) = 4-5.
//   log       1 + response.get_header (x-tandem-fallback); served from the cache:
//             + ctx.shared.get = 2-3 (in a timer, after the response went out).
// The hand-off to the breaker: ../shared/cache-carry.ts.
import type { KongPDK } from "../shared/pdk";
import { getCore } from "../shared/shared";
import { ConfigKeeper } from "../shared/config-keeper";
import { fallbackForm } from "../circuit-breaker/fallback-form";
import type { BreakerPlan, HeaderPair } from "../../core-js/tandem-core";
import { answerNeeds } from "../../core-js/answer-needs";
import { CACHE_HEADER, CACHE_HEADER_VALUE } from "../../core-js/tandem-core";
import { CACHE_CARRY_FIELD, readCarry, type CacheCarry } from "../shared/cache-carry";
import { PLUGIN_CACHE as PLUGIN } from "../../wasm/core/metrics/catalog";
export { Schema } from "../circuit-breaker/schema";
export const Version = "0.1.0";
// After `experiment` (800: the variant header is set, as the Envoy filter's key sees it)
// and before `circuit-breaker` (790), which reads the carry on a rejection.
export const Priority = 795;

const MAX_HEADERS = 1000;

type CachePDK = KongPDK & {
  response: KongPDK["response"] & { getHeader(name: string): Promise<string | string[] | undefined | null> };
  ctx: { shared: { get(k: string): Promise<unknown>; set(k: string, v: unknown): Promise<unknown> } };
  service: KongPDK["service"] & {
    response: {
      getStatus(): Promise<number>;
      getHeaders(max?: number): Promise<Record<string, string | string[]>>;
      getRawBody(): Promise<Uint8Array | string>;
    };
  };
};

interface Configured { plan: BreakerPlan; canon: string; token: string; methods: Set<string> }

const configs = new ConfigKeeper<Configured>((c) => getCore().releaseBreaker(c.plan), PLUGIN);

function configure(config: Record<string, unknown>): Configured {
  return configs.fromKong(config, (json, canon, token) => {
    const plan = getCore().configureBreaker(json);
    const cache = plan.fallback?.cache;
    if (!cache) process.stderr.write("tandem: fallback-cache: the config's fallback has no cache: nothing is stored or served\n");
    return { plan, canon, token, methods: new Set(cache?.methods ?? []) };
  }, fallbackForm);
}

// Kong's header table (repeats as arrays) as a pairs list, in Kong's order.
function pairsOf(h: Record<string, string | string[]>): HeaderPair[] {
  const out: HeaderPair[] = [];
  for (const [n, v] of Object.entries(h)) for (const x of Array.isArray(v) ? v : [v]) out.push([n.toLowerCase(), String(x)]);
  return out;
}

export class Plugin {
  private readonly c: Configured;

  constructor(config: Record<string, unknown>) {
    this.c = configure(config);
  }

  async access(kong: CachePDK): Promise<void> {
    const c = this.c;
    if (c.methods.size === 0) return;
    // The method first: a request the cache never takes costs one RPC more, not three.
    const method = await kong.request.getMethod();
    if (!c.methods.has(method)) return;
    const headers = await kong.request.getHeaders(MAX_HEADERS);
    const path = await kong.request.getPathWithQuery();
    const core = getCore();
    const { key } = core.cacheKey(c.plan, answerNeeds(c.plan.needs, { headers, path, method, requestId: null }));
    if (key === null) return;   // Authorization without cacheAuthorized, a key too long
    const carry: CacheCarry = { policy: c.plan.policy, key: key.toString("base64") };
    // A look ahead: whether the breaker serves it is decided later, in another process.
    // So no LRU touch and no count here; log records the use when it was served.
    const hit = core.cacheLookup(c.plan, key, Date.now(), false);
    if (hit) carry.hit = { status: hit.status, headers: hit.headers, body: hit.body.toString("base64") };
    await kong.ctx.shared.set(CACHE_CARRY_FIELD, carry);
  }

  // The request is over: when the breaker served this plugin's answer (the client's
  // answer says x-tandem-fallback: cache), the entry was used: the core marks it most
  // recently used, as the Envoy filter's serving does (wasm/core/cache/runtime.ts lookup).
  // Kong runs log for every request that collected the plugin, an exit in access included
  // (kong/init.lua execute_collecting_plugins_iterator walks every plugin; plugins_iterator.lua
  // get_next_and_collect collects each one's log), with the saved response headers and
  // ctx.shared (plugin_servers/plugin.lua build_phases).
  async log(kong: CachePDK): Promise<void> {
    const c = this.c;
    if (c.methods.size === 0) return;
    let served = await kong.response.getHeader(CACHE_HEADER);
    if (Array.isArray(served)) served = served[0];
    if (served !== CACHE_HEADER_VALUE) return;
    const carry = readCarry(await kong.ctx.shared.get(CACHE_CARRY_FIELD), c.plan.policy);
    if (carry?.key && carry.hit) getCore().cacheLookup(c.plan, Buffer.from(carry.key, "base64"), Date.now(), true);
  }

  // The upstream's whole answer (buffered by Kong): stored when the core's rules take it.
  async response(kong: CachePDK): Promise<void> {
    const c = this.c;
    const carry = readCarry(await kong.ctx.shared.get(CACHE_CARRY_FIELD), c.plan.policy);
    if (carry === null || carry.key === null) return;   // not cacheable, or rerouted by the breaker
    const core = getCore();
    const status = await kong.service.response.getStatus();
    if (typeof status !== "number") return;
    const headers = pairsOf(await kong.service.response.getHeaders(MAX_HEADERS));
    if (core.cacheCheck(c.plan, status, headers) !== "stored") return;
    const raw = await kong.service.response.getRawBody();
    const body = typeof raw === "string" ? Buffer.from(raw, "latin1") : Buffer.from(raw ?? new Uint8Array(0));
    core.cacheStore(c.plan, Buffer.from(carry.key, "base64"), status, headers, body, Date.now());
  }
}
