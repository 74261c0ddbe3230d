// HTTP/1.1 upgrades (WebSocket) at the connection manager, as Envoy decides them:
// - what an upgrade is: source/common/http/utility.cc Utility::isUpgrade — a Connection
//   header listing the token "upgrade" (any case) and an Upgrade header. Anything else is
//   a plain request whose Connection and Upgrade headers the HCM drops
//   (conn_manager_utility.cc ConnectionManagerUtility::mutateRequestHeaders keeps both
//   only for an upgrade, to forward them verbatim);
// - whether it is allowed: source/common/http/filter_manager.cc
//   FilterManager::createFilterChain hands the Upgrade value to the HCM's
//   createUpgradeFilterChain (extensions/filters/network/http_connection_manager/config.cc
//   HttpConnectionManagerConfig::createUpgradeFilterChain): the route's upgrade_configs
//   entry for that type (names compared ignoring case) decides when present (false
//   refuses, true allows); else the HCM's upgrade_configs must list the type. Envoy's
//   default lists none; Istio's HCMs list "websocket" (pilot buildHTTPConnectionManager,
//   "Allow websocket upgrades"), and so does `tandem render`'s envoy.yaml;
// - a refused upgrade: conn_manager_impl.cc ActiveStream::decodeHeaders answers 403 with
//   an empty body and details `upgrade_failed` before any filter's decodeHeaders, through
//   the default filter chain's encoder callbacks, and closes the connection
//   (state_.saw_connection_close_; stat downstream_rq_ws_on_non_ws_route).

export const UPGRADE_FAILED = 'upgrade_failed';

function hasToken(value: string, token: string): boolean {
  return value.split(',').some((t) => t.trim().toLowerCase() === token);
}

/** Utility::isUpgrade over a head's header fields (names any case): the Upgrade value, or null. */
export function upgradeOf(headers: ReadonlyArray<readonly [string, string]>): string | null {
  let upgrade: string | null = null;
  let connection = false;
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    if (n === 'upgrade' && upgrade === null) upgrade = v;
    else if (n === 'connection' && hasToken(v, 'upgrade')) connection = true;
  }
  return connection && upgrade !== null ? upgrade : null;
}

/**
 * createUpgradeFilterChain: `hcm` the HCM's upgrade_configs types, `route` the route's
 * upgrade_configs (type -> enabled).
 */
export function upgradeAllowed(type: string, hcm: readonly string[], route?: Readonly<Record<string, boolean>>): boolean {
  const t = type.toLowerCase();
  if (route) {
    const k = Object.keys(route).find((x) => x.toLowerCase() === t);
    if (k !== undefined) return route[k];
  }
  return hcm.some((x) => x.toLowerCase() === t);
}
