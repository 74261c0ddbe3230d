// Maps the core's fact needs onto what a Node-side gateway adapter already read
// (Kong plugins, `tandem simulate --via core`): one place, so both answer alike.
import { entropyHex } from "./entropy";
import { FactKind, type Need } from "./tandem-core";

export interface RequestView {
  headers: Record<string, string | string[] | undefined>;   // lowercase names
  path?: string;
  method?: string;
  ip?: string;
  // The gateway's own id of this request (Kong: $kong_request_id), the entropy of a new
  // sticky id when the request carries no x-request-id. Absent: fresh random bytes
  // (Node-side callers with no gateway); null: not fetched, the adapter asks for it
  // only if the core turns out to need it (plugins/experiment/facts.ts).
  requestId?: string | null;
}

// Envoy's proxy_get_header_map_value returns the first value of a repeated header
// (source/extensions/common/wasm/context.cc); Kong returns an array. Take the first
// so both gateways see the same fact.
function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function answerNeeds(needs: ReadonlyArray<Need>, v: RequestView): Array<string | undefined> {
  return needs.map((n) => {
    switch (n.kind) {
      case FactKind.Header: return first(v.headers[n.name]);
      case FactKind.Host: return first(v.headers.host);
      case FactKind.Path: return v.path;
      case FactKind.Method: return v.method;
      case FactKind.ClientIp: return v.ip;
      // Envoy's entropy is x-request-id (Envoy sets one on every request): the same
      // request gets the same id from both gateways when it carries one.
      case FactKind.Entropy: return first(v.headers["x-request-id"]) ?? (v.requestId === undefined ? entropyHex() : v.requestId ?? undefined);
    }
  });
}
