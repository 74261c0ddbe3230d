// Kong's answers to the core's fact needs, fetched with the fewest RPCs: one
// get_headers for every header need (Host included), and path, method or client ip
// only when the policy needs them.
import { entropyHex } from "../core/entropy";
import type { KongPDK } from "../core/pdk";
import { FactKind, type Need } from "../core/tandem-core";

// Envoy's proxy_get_header_map_value returns the first value of a repeated header
// (source/extensions/common/wasm/context.cc); Kong returns an array. Take the first
// so both gateways see the same fact.
function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export interface FactPlan {
  needs: Need[];
  headers: boolean;
  path: boolean;
  method: boolean;
  ip: boolean;
}

export function planFacts(needs: Need[]): FactPlan {
  const has = (k: FactKind) => needs.some((n) => n.kind === k);
  return {
    needs,
    headers: has(FactKind.Header) || has(FactKind.Host),
    path: has(FactKind.Path),
    method: has(FactKind.Method),
    ip: has(FactKind.ClientIp),
  };
}

// Kong's get_headers returns at most 100 headers by default; ask for Kong's maximum
// (1000) so a request padded with junk headers cannot hide the one we need.
const MAX_HEADERS = 1000;

export async function fetchFacts(kong: KongPDK, plan: FactPlan): Promise<Array<string | undefined>> {
  const headers = plan.headers ? await kong.request.getHeaders(MAX_HEADERS) : {};
  const path = plan.path ? await kong.request.getPathWithQuery() : undefined;
  const method = plan.method ? await kong.request.getMethod() : undefined;
  const ip = plan.ip ? await kong.client.getIp() : undefined;
  return plan.needs.map((n) => {
    switch (n.kind) {
      case FactKind.Header: return first(headers[n.name]);
      case FactKind.Host: return first(headers.host);
      case FactKind.Path: return path;
      case FactKind.Method: return method;
      case FactKind.ClientIp: return ip;
      case FactKind.Entropy: return entropyHex();
    }
  });
}
