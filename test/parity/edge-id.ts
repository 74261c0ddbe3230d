// What parity means for a new user's generated id. Kong hands the plugin the client's
// x-request-id (else $kong_request_id); an Istio ingress gateway replaces the client's
// with a UUID of its own (sim/envoy/request-id.ts). A new user's id is drawn from that
// request id, so the same request gives a new user different ids - and so possibly
// different buckets - on the two gateways; every request that carries its key (cookie,
// header, query) decides identically. `--via core` models each side with its profile.
import { expect } from "vitest";
import type { SimResult } from "../../cli/simulate/result";
import type { PolicyDoc } from "../../cli/policy-file";
import { cliCore } from "../../cli/dist-core";
import { partConfig } from "../../cli/policy-plan";
import { answerNeeds } from "../../core-js/answer-needs";
import { normalizedHeaders, sentMethod, type TraceRequest } from "../../cli/simulate/trace";

// Lines whose decision drew a new id from the request's entropy (the core's key source
// -1): the only ones where the two gateways' request ids can make a difference.
export function newUserLines(policy: PolicyDoc, trace: TraceRequest[]): boolean[] {
  const ex = partConfig(policy, "experiment");
  if (!ex) return trace.map(() => false);
  const core = cliCore();
  const plan = core.configureExperiment(JSON.stringify(ex));
  try {
    return trace.map((r) => {
      core.decideExperiment(plan, answerNeeds(plan.needs, { headers: normalizedHeaders(r), path: r.path, method: sentMethod(r), ip: "127.0.0.1" }), r.t);
      return core.lastKeySource(plan) === -1;
    });
  } finally {
    core.release(plan);
  }
}

// Lines without a new user are identical on the Kong side and the Envoy side; a new
// user issued a cookie on one side issues one on the other (with its own id). Returns
// how many lines were compared in full.
export function expectSameExceptNewIds(kongSide: SimResult[], envoySide: SimResult[], fresh: boolean[], where: (i: number) => string): number {
  let same = 0;
  for (let i = 0; i < kongSide.length; i++) {
    const k = kongSide[i];
    const e = envoySide[i];
    if (k.refused || e.refused) {
      // A gateway refuses it at its edge: both sides say so alike (cli/simulate/edge.ts).
      expect(e.refused, `refused on both sides, ${where(i)}`).toEqual(k.refused);
    } else if (!fresh[i]) {
      expect(e, `kong vs envoy side, ${where(i)}`).toEqual(k);
      same++;
    } else {
      expect(k.setCookie !== null, `a new user's cookie on both sides, ${where(i)}`).toBe(e.setCookie !== null);
    }
  }
  return same;
}
