// Kong's answers to the core's fact needs, fetched with the fewest RPCs: one
// get_headers for every header need (Host and x-request-id included), and path,
// method or client ip only when the policy needs them.
import { answerNeeds } from "../core/answer-needs";
import type { KongPDK } from "../core/pdk";
import { FactKind, type Need } from "../core/tandem-core";

export interface FactPlan {
  needs: Need[];
  path: boolean;
  method: boolean;
  ip: boolean;
}

export function planFacts(needs: Need[]): FactPlan {
  const has = (k: FactKind) => needs.some((n) => n.kind === k);
  return { needs, path: has(FactKind.Path), method: has(FactKind.Method), ip: has(FactKind.ClientIp) };
}

// Kong's get_headers returns at most 100 headers by default; ask for Kong's maximum
// (1000) so a request padded with junk headers cannot hide the one we need.
const MAX_HEADERS = 1000;

export interface Facts { values: Array<string | undefined>; headers: Record<string, string | string[]> }

export async function fetchFacts(kong: KongPDK, plan: FactPlan): Promise<Facts> {
  const headers = await kong.request.getHeaders(MAX_HEADERS);
  const path = plan.path ? await kong.request.getPathWithQuery() : undefined;
  const method = plan.method ? await kong.request.getMethod() : undefined;
  const ip = plan.ip ? await kong.client.getIp() : undefined;
  return { values: answerNeeds(plan.needs, { headers, path, method, ip }), headers };
}
