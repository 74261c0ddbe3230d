// Settings of spec.faults (fault injection), built once per configuration by
// ./config.ts; the decision per request in ./fault.ts.
import { Needs } from "../request/facts";
import { NO_POLICY } from "../metrics/catalog";
import { Rule } from "../rules/settings";
import { FallbackSettings } from "../breaker/settings";
import { HmacSha256 } from "../hmac/hmac";
import { Source } from "../experiment/settings";

export const BY_REQUEST = 0;         // the coin: a hash of the request id (x-request-id)
export const BY_USER = 1;            // the coin: a hash of the sticky user key
export const SCOPE_GATEWAY = 0;      // the gateway's own answer: breaker and guards ignore it
export const SCOPE_UPSTREAM = 1;     // stands in for the upstream: recorded as its outcome

// Delays stay below Kong's 60 s plugin-server RPC timeout (kong/runloop/plugin_servers:
// the access phase of a delayed request is one RPC), with margin.
export const MAX_DELAY_MS = 30000;
export const MAX_FAULTS = 32;
export const BP_ALL = 10000;         // percent in basis points: 100% = 10000

export class Fault {
  name: string = "";
  enabled: bool = true;
  startMs: f64 = -Infinity;          // schedule [startMs, endMs)
  endMs: f64 = Infinity;
  rule: Rule = new Rule();           // match (no conditions: every request)
  variant: i32 = -1;                 // -1: any (or no) variant
  variantBytes: StaticArray<u8> = new StaticArray<u8>(0);
  delayMs: i32 = -1;                 // -1: no delay
  delayBp: i32 = 0;
  abortStatus: i32 = 0;              // 0: no abort
  abortBp: i32 = 0;
  reply: FallbackSettings | null = null;   // the abort's headers, body, content type
  by: i32 = BY_REQUEST;
  scope: i32 = SCOPE_GATEWAY;
  maxActive: i32 = 0;                // 0: no limit
  controlSlot: i32 = -1;             // header control: the header's fact, -1 none
  controlHeader: StaticArray<u8> = new StaticArray<u8>(0);
  hmac: HmacSha256 | null = null;
  delaySeed: u32 = 0;                // coin seeds, from the name (reordering keeps coins)
  abortSeed: u32 = 0;
}

export class FaultSettings {
  policy: string = NO_POLICY;    // the plugin config's policy name (metrics label)
  faults: StaticArray<Fault> = new StaticArray<Fault>(0);
  needs: Needs = new Needs();
  variantSlot: i32 = -1;             // the experiment's variant header, -1 when unused
  entropySlot: i32 = -1;             // the request id
  sources: StaticArray<Source> = new StaticArray<Source>(0);   // the experiment's stickiness
  // Header-control headers to remove from every request (never reach the upstream).
  stripSlots: StaticArray<i32> = new StaticArray<i32>(0);
  stripNames: StaticArray<StaticArray<u8>> = new StaticArray<StaticArray<u8>>(0);
  clock: bool = false;               // a schedule: the adapter must pass the real clock
  upstream: bool = false;            // some fault has scope: upstream
}
