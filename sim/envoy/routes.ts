// Route selection, first match wins (Envoy RouteConfiguration virtual host routes).
// A route matches when its path prefix matches :path (prefix match on the whole :path value,
// query included, case-sensitive) and its header matcher equals the header value; several
// values of the header are joined with "," first (HeaderUtility::getAllOfHeaderAsString).
// Envoy caches the route; a Wasm filter (ABI <= 0.2.1) that changes request headers clears
// the cache, so the router re-selects with the final headers (see http-stream.ts).

import type { HeaderMap } from './header-map.js';
import type { RetryPolicySpec } from './retry.js';

export interface RouteSpec {
  header?: { name: string; value: string };
  pathPrefix?: string;
  cluster: string;
  /** Envoy route name (the xds.route_name property); empty when unset, as in Envoy. */
  name?: string;
  /** RouteAction.retry_policy (./retry.ts); none: one try. */
  retryPolicy?: RetryPolicySpec;
  /** RouteAction.upgrade_configs: upgrade type -> enabled, over the HCM's (./upgrade.ts). */
  upgradeConfigs?: Record<string, boolean>;
}

export function matchRoute(routes: readonly RouteSpec[], headers: HeaderMap): RouteSpec | undefined {
  const path = headers.get(':path') ?? '';
  for (const r of routes) {
    if (r.pathPrefix !== undefined && !path.startsWith(r.pathPrefix)) continue;
    if (r.header && headers.getAll(r.header.name) !== r.header.value) continue;
    return r;
  }
  return undefined;
}
