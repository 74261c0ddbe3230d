// What parity means for a new user's generated id. Kong hands the plugin the client's
// x-request-id (else $kong_request_id); an Istio ingress gateway replaces the client's
// with a UUID of its own (sim/envoy/request-id.ts). A new user's id is drawn from that
// request id, so the same request gives a new user different ids - and so possibly
// different buckets - on the two gateways; every request that carries its key (cookie,
// header, query) decides identically. `--via core` models each side with its profile.
import { expect } from "vitest";
import type { SimResult } from "../../cli/simulate/result";

// Lines where neither side issued a new id are identical; where one side did, so did
// the other (a new user is new on both), with its own id.
export function expectSameExceptNewIds(kongSide: SimResult[], envoySide: SimResult[], where: (i: number) => string): number {
  let fresh = 0;
  for (let i = 0; i < kongSide.length; i++) {
    const k = kongSide[i];
    const e = envoySide[i];
    if (k.setCookie === null && e.setCookie === null) {
      expect(e, `kong vs envoy side, ${where(i)}`).toEqual(k);
    } else {
      fresh++;
      expect(k.setCookie !== null && e.setCookie !== null, `a new user on both sides, ${where(i)}`).toBe(true);
    }
  }
  return fresh;
}
