// JSON description of cache settings with defaults, for plans, reports and tests.
// Allocates: configure time only.
import { CacheSettings } from "./settings";

export function describeCache(c: CacheSettings, onOpen: bool, onUpstreamFailure: bool): string {
  let o = "{\"methods\":[";
  for (let i = 0; i < c.methodNames.length; i++) o += (i > 0 ? ",\"" : "\"") + c.methodNames[i] + "\"";
  o += "],\"maxEntries\":" + c.maxEntries.toString() + ",\"maxBodyBytes\":" + c.maxBodyBytes.toString();
  o += ",\"ttlMs\":" + (<i64>c.ttlMs).toString() + ",\"varyHeaders\":[";
  for (let i = 0; i < c.vary.length; i++) o += (i > 0 ? ",\"" : "\"") + c.vary[i] + "\"";
  o += "],\"statuses\":[";
  for (let i = 0; i < c.statuses.length; i++) o += (i > 0 ? "," : "") + c.statuses[i].toString();
  o += "],\"cacheAuthorized\":" + (c.authorized ? "true" : "false");
  let on = "";
  if (onOpen) on = "\"open\"";
  if (onUpstreamFailure) on += (on.length > 0 ? "," : "") + "\"upstreamFailure\"";
  return o + ",\"on\":[" + on + "]}";
}
