// The playground's load generator, in its own worker thread (the gateways' harnesses
// run on the main thread; this keeps the client side of ≥ 1,000 pairs/s off it). Every
// 10 ms it sends the due number of pairs: the same request (same user, same
// x-request-id, so a new visitor gets the same minted id) to Kong and to Envoy, over
// keep-alive connections. It observes only what a client sees: status, latency, the
// variant (the demo backend echoes it; the x-tandem-decision header when the policy
// exposes it, which also gives the reason), Set-Cookie. Once a second it posts a
// LoadSecond to the main thread. Costs the gateways nothing beyond the requests.
import { Agent, request } from "node:http";
import { parentPort } from "node:worker_threads";
import { randomBytes } from "node:crypto";
import { EXPOSE_HEADER } from "../../core-js/tandem-core";
import type { Decision, GatewaySecond, LoadSecond, LoadSettings, LoadTarget, Source } from "./load-shape";

const TICK_MS = 10;
// Beyond this many pairs in flight, a tick's pairs are skipped and counted ("skipped:
// the gateways are behind" on the page): the generator never queues without bound when
// a gateway falls behind, so latencies stay the gateways' own, not a queue's. 64 pairs
// carry 1,000 pairs/s up to 64 ms a pair; on the busy 2-core machine more in flight gave
// the harnesses fewer pairs a second, not more (bench playground-load: 256 → 8–22/s,
// 64 → 67/s, 16 → 27/s at load average 20–27).
const MAX_IN_FLIGHT = 64;
const DECISIONS_KEPT = 12;
// Users remembered for the agreement line and moves: beyond it, new users are not
// tracked (the counts say so by not growing). 200,000 entries ≈ 30 MB.
const USERS_TRACKED = 200_000;

let settings: LoadSettings = { rps: 0, users: 1000, returning: 0.8 };
let target: LoadTarget | null = null;
const agents = { kong: new Agent({ keepAlive: true, maxSockets: 512 }), envoy: new Agent({ keepAlive: true, maxSockets: 512 }) };

// Per user slot: the cookie tandem issued it (a new visitor's, kept as a returning user's).
let cookies: Array<string | undefined> = [];
let visitors = 0;
// user -> last variant seen at Kong (moves) and whether the user's pairs ever differed.
const lastVariant = new Map<string, string>();
const differed = new Set<string>();
let generation = -1;

type Gw = "kong" | "envoy";
interface Acc { g: GatewaySecond; lat: Map<string, number[]>; decisions: Decision[] }
const fresh = (): Acc => ({ g: { variants: {}, sources: {}, reasons: {}, errors: 0 }, lat: new Map(), decisions: [] });
let acc: Record<Gw, Acc> = { kong: fresh(), envoy: fresh() };
let agreement = { compared: 0, differ: 0, lastDiffer: null as string | null, stateful: 0 };
let moves: Record<string, number> = {};
let skipped = 0;
let sent = 0;
let inFlight = 0;

interface Seen { status: number; ms: number; variant: string; reason: string; cookie: string | null }

function parseDecision(v: string | string[] | undefined): { variant: string; reason: string } | null {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return null;
  const m = /^([^;]*);\s*reason=(.*)$/.exec(s);
  return m ? { variant: m[1].trim(), reason: m[2].trim() } : { variant: s.trim(), reason: "" };
}

function one(gw: Gw, port: number, path: string, headers: Record<string, string>, t: LoadTarget): Promise<Seen | null> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: agents[gw] }, (res) => {
      res.resume();
      res.on("end", () => {
        const d = parseDecision(res.headers[EXPOSE_HEADER]);
        const echoed = res.headers[t.variantHeader];
        const variant = d?.variant ?? (Array.isArray(echoed) ? echoed[0] : echoed) ?? "—";
        const sc = res.headers["set-cookie"];
        const list = Array.isArray(sc) ? sc : sc ? [sc] : [];
        const c = t.cookie ? list.find((x) => x.startsWith(t.cookie + "=")) : undefined;
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, variant, reason: d?.reason ?? "", cookie: c ? c.slice(t.cookie!.length + 1).split(";")[0] : null });
      });
      res.on("error", () => resolve(null));
    });
    req.on("error", () => resolve(null));
    req.end();
  });
}

function note(gw: Gw, s: Seen | null, source: Source, user: string) {
  const a = acc[gw];
  if (s === null) { a.g.errors++; return; }
  const v = (a.g.variants[s.variant] ??= { n: 0, ok: 0, p95: null });
  v.n++;
  if (s.status < 500) v.ok++;
  let l = a.lat.get(s.variant);
  if (!l) a.lat.set(s.variant, (l = []));
  l.push(s.ms);
  a.g.sources[source] = (a.g.sources[source] ?? 0) + 1;
  const reason = s.reason || "—";
  a.g.reasons[reason] = (a.g.reasons[reason] ?? 0) + 1;
  a.decisions.push({ t: Date.now(), user, variant: s.variant, reason, status: s.status, ms: Math.round(s.ms * 10) / 10 });
  if (a.decisions.length > DECISIONS_KEPT) a.decisions.shift();
}

// A guard's or breaker's answer depends on state each gateway keeps for itself, which
// flips at slightly different requests on the two: such pairs are counted, not compared.
const STATEFUL = new Set(["guard", "fallback", "fault"]);

async function pair(t: LoadTarget) {
  const headers: Record<string, string> = { "x-request-id": randomBytes(16).toString("hex") };
  if (t.host) headers.host = t.host;
  let path = t.path;
  let user: string;
  let source: Source;
  let slot = -1;
  if (Math.random() < settings.returning && t.key) {
    const i = Math.floor(Math.random() * settings.users);
    const c = t.cookie ? cookies[i] : undefined;
    if (c !== undefined) {
      headers.cookie = `${t.cookie}=${c}`;
      user = `${t.cookie}=${c.slice(0, 12)}`;
      source = "cookie";
    } else {
      const id = `u${i}`;
      user = id;
      source = t.key.kind;
      if (t.key.kind === "header") headers[t.key.name] = id;
      else if (t.key.kind === "cookie") headers.cookie = `${t.key.name}=${id}`;
      else path += `${path.includes("?") ? "&" : "?"}${encodeURIComponent(t.key.name)}=${id}`;
    }
  } else {
    // A new visitor: no key. With a sticky cookie it is issued one and comes back as
    // user slot <n mod users>.
    slot = visitors++ % settings.users;
    user = `new-${visitors}`;
    source = t.cookie ? "issued" : "none";
  }
  inFlight++;
  sent++;
  const [k, e] = await Promise.all([one("kong", t.kongPort, path, headers, t), one("envoy", t.envoyPort, path, headers, t)]);
  inFlight--;
  if (t !== target) return; // a reload happened meanwhile: this pair belongs to the old policy
  note("kong", k, source, user);
  note("envoy", e, source, user);
  if (slot >= 0 && k?.cookie) cookies[slot] = k.cookie;
  if (!k || !e || k.variant === "—" || e.variant === "—") return;
  if (STATEFUL.has(k.reason) || STATEFUL.has(e.reason)) { agreement.stateful++; return; }
  agreement.compared++;
  if (k.variant !== e.variant) {
    agreement.differ++;
    agreement.lastDiffer = `${user}: kong ${k.variant}, envoy ${e.variant}`;
    if (differed.size < USERS_TRACKED) differed.add(user);
  }
  const before = lastVariant.get(user);
  if (before !== undefined && before !== k.variant) moves[`${before}→${k.variant}`] = (moves[`${before}→${k.variant}`] ?? 0) + 1;
  if (before !== undefined || lastVariant.size < USERS_TRACKED) lastVariant.set(user, k.variant);
}

let due = 0;
const tick = setInterval(() => {
  const t = target;
  if (!t || settings.rps <= 0) { due = 0; return; }
  due += (settings.rps * TICK_MS) / 1000;
  while (due >= 1) {
    due--;
    if (inFlight >= MAX_IN_FLIGHT) { skipped++; continue; }
    void pair(t);
  }
}, TICK_MS);

function p95(xs: number[]): number | null {
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  return Math.round(xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)] * 10) / 10;
}

const report = setInterval(() => {
  const out: LoadSecond = {
    t: Date.now(),
    kong: acc.kong.g,
    envoy: acc.envoy.g,
    decisions: { kong: acc.kong.decisions, envoy: acc.envoy.decisions },
    agreement: { users: lastVariant.size, ...agreement, differ: differed.size },
    moves,
    skipped,
    sent,
  };
  for (const gw of ["kong", "envoy"] as const) for (const [v, xs] of acc[gw].lat) out[gw].variants[v].p95 = p95(xs);
  // decisions carry over: the list is "the last ones", not "this second's"
  const keep = { kong: acc.kong.decisions, envoy: acc.envoy.decisions };
  acc = { kong: fresh(), envoy: fresh() };
  acc.kong.decisions = keep.kong.slice();
  acc.envoy.decisions = keep.envoy.slice();
  skipped = 0;
  sent = 0;
  parentPort!.postMessage(out);
}, 1000);

parentPort!.on("message", (m: { settings?: LoadSettings; target?: LoadTarget; reset?: true; stop?: true }) => {
  if (m.settings) {
    if (m.settings.users !== settings.users) cookies = [];
    settings = m.settings;
  }
  if (m.target) {
    if (m.target.generation !== generation) { moves = {}; generation = m.target.generation; }
    target = m.target;
  }
  // Another policy (a reload): users and agreement start over.
  if (m.reset) {
    cookies = []; lastVariant.clear(); differed.clear(); agreement = { compared: 0, differ: 0, lastDiffer: null, stateful: 0 };
  }
  if (m.stop) {
    clearInterval(tick);
    clearInterval(report);
    agents.kong.destroy();
    agents.envoy.destroy();
    parentPort!.close();
  }
});
