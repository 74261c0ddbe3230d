// Settings of a sticky weighted experiment, built once per configuration.
import { utf8 } from "../text/bytes";
import { Needs } from "../request/facts";
import { GrowthBookSplit } from "../hash/growthbook";
import { UnleashHash } from "../hash/unleash";
import { HmacSha256 } from "../hmac/hmac";
import { Rule } from "../rules/settings";
import { BreakerSettings } from "../breaker/settings";
import { NO_POLICY } from "../metrics/catalog";

export const enum HashMode { Tandem = 0, GrowthBook = 1, Unleash = 2 }

// Why a request got its variant (the exposed header and `tandem explain` say it):
// REASON_* of ../contract.ts.
export { REASON_SPLIT, REASON_RAMP, REASON_OVERRIDE, REASON_GUARD, REASON_RULE0 } from "../contract";
import { REASON_SPLIT, REASON_RAMP, REASON_OVERRIDE, REASON_GUARD, REASON_RULE0 } from "../contract";

// Cumulative bucket ranges of the variants from `fromMs` on: one table for fixed
// weights, one per rollout step (and one before the first) for a time-based ramp.
export class WeightTable {
  upperBp: StaticArray<i32>;
  gb: GrowthBookSplit | null = null;
  constructor(public fromMs: f64, n: i32) { this.upperBp = new StaticArray<i32>(n); }
}

export const enum SourceKind { Cookie = 0, Header = 1, Query = 2, Ip = 3 }

export class Source {
  nameBytes: StaticArray<u8>;
  slot: i32 = -1;          // index into ExperimentSettings.needs
  constructor(public kind: SourceKind, public name: string) {
    this.nameBytes = utf8(name);
  }
}

// A canary guard (config/guard.ts): a breaker on one variant's outcomes; while it is
// open its users go to variant `to`. `breaker` holds the window, thresholds, cooldown
// (openDurationMs), half-open probes, failure classification and mode.
export class GuardSettings {
  index: i32 = 0;                   // position in ExperimentSettings.guards
  constructor(public breaker: BreakerSettings, public variant: i32, public to: i32) {}
}

export class Variant {
  nameBytes: StaticArray<u8>;
  constructor(public name: string, public weightBp: i32, public upstream: string) {
    this.nameBytes = utf8(name);
  }
}

// Length of a generated sticky id: 128 bits as lowercase hex.
export const ID_HEX_LEN = 32;

export class CookieSettings {
  maxAge: i64 = 0;          // seconds; 0 = session cookie (no Max-Age attribute)
  path: string = "/";
  domain: string = "";
  secure: bool = false;
  httpOnly: bool = true;
  sameSite: string = "Lax";
  prefix: StaticArray<u8> = new StaticArray<u8>(0);  // "name="
  suffix: StaticArray<u8> = new StaticArray<u8>(0);  // "; Path=/; Max-Age=...; HttpOnly; SameSite=Lax"
  constructor(public name: string) {}

  build(): void {
    this.prefix = utf8(this.name + "=");
    let sfx = "; Path=" + this.path;
    if (this.maxAge > 0) sfx += "; Max-Age=" + this.maxAge.toString();
    if (this.domain.length > 0) sfx += "; Domain=" + this.domain;
    if (this.secure) sfx += "; Secure";
    if (this.httpOnly) sfx += "; HttpOnly";
    sfx += "; SameSite=" + this.sameSite;
    this.suffix = utf8(sfx);
  }
}

export class ExperimentSettings {
  name: string = "";
  policy: string = NO_POLICY;    // the plugin config's policy name (metrics label)
  metrics: bool = true;          // the plugin config's `metrics` switch (Envoy: the filter's stats)
  hasFaults: bool = true;        // the plugin config's `hasFaults` (false: no fault part shares the policy)
  logBp: i32 = 0;                // decisionLog.percent in basis points (0: no decision log; ../decision-log/)
  seed: string = "";
  seedHash: u32 = 0;
  variantHeader: string = "";
  variantHeaderBytes: StaticArray<u8> = new StaticArray<u8>(0);
  variants: StaticArray<Variant> = new StaticArray<Variant>(0);
  sources: StaticArray<Source> = new StaticArray<Source>(0);
  cookie: CookieSettings | null = null;
  scopeHosts: StaticArray<StaticArray<u8>> | null = null;
  scopePrefixes: StaticArray<StaticArray<u8>> | null = null;
  hostSlot: i32 = -1;
  pathSlot: i32 = -1;
  entropySlot: i32 = -1;
  // CORS preflights (../request/preflight.ts): the Access-Control-Request-Method header,
  // and the method (a NEED_ON_DEMAND need) read only when that header is present.
  preflightSlot: i32 = -1;
  methodSlot: i32 = -1;
  // gRPC requests (../request/grpc.ts) get no Set-Cookie: the content-type, read only
  // for a new user of an experiment with a cookie.
  contentTypeSlot: i32 = -1;
  // Needs added only for those rare reads (the on-demand method, and the content-type
  // unless a rule reads it anyway): an adapter sizing its per-request header reads by
  // the needs (wasm/filter/facts.ts PAIRS_THRESHOLD) leaves them out.
  rareNeeds: i32 = 0;
  // With guards: the request headers telling a long-lived request (../request/long-lived.ts).
  upgradeSlot: i32 = -1;
  acceptSlot: i32 = -1;
  needs: Needs = new Needs();
  hash: HashMode = HashMode.Tandem;
  unleash: UnleashHash | null = null;   // hash: unleash (groupId = seed)
  tables: StaticArray<WeightTable> = new StaticArray<WeightTable>(0);   // ascending fromMs
  rollout: bool = false;            // decisions depend on now: adapters must pass the clock
  rules: StaticArray<Rule> = new StaticArray<Rule>(0);
  ruleGb: StaticArray<GrowthBookSplit | null> = new StaticArray<GrowthBookSplit | null>(0);
  overrideHeader: string = "";      // "" = no override
  overrideHeaderBytes: StaticArray<u8> = new StaticArray<u8>(0);
  overrideSlot: i32 = -1;
  hmac: HmacSha256 | null = null;
  overrideRequiresExpiry: bool = false;   // tokens without "~<expiry>" are refused
  guards: StaticArray<GuardSettings> = new StaticArray<GuardSettings>(0);
  guardOf: StaticArray<i32> = new StaticArray<i32>(0);   // per variant: index into guards, -1 none
  clock: bool = false;              // rollout or guards: adapters must pass the real clock
  expose: bool = false;
  // "<variant>; reason=<reason>" per (variant, reason): built at configure time
  exposeValues: StaticArray<StaticArray<u8>> = new StaticArray<StaticArray<u8>>(0);
  reasonCount: i32 = 0;
}

export { EXPOSE_HEADER } from "../contract";

export function reasonName(r: i32): string {
  if (r == REASON_SPLIT) return "split";
  if (r == REASON_RAMP) return "ramp";
  if (r == REASON_OVERRIDE) return "override";
  if (r == REASON_GUARD) return "guard";
  return "rule:" + (r - REASON_RULE0).toString();
}
