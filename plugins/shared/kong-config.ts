// Kong hands a plugin its stored config (kong/runloop/plugins_iterator.lua): the
// user's fields with unset ones removed, plus Kong's own keys — __seq__, __plugin_id,
// __key__, __ws_id, and route_id / service_id / consumer_id naming where the plugin
// is attached. Those are Kong's, not the user's: strip them before the core sees the
// config (the core rejects unknown fields).
const KONG_KEYS = new Set(["route_id", "service_id", "consumer_id", "consumer_group_id"]);

export function userConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!k.startsWith("__") && !KONG_KEYS.has(k)) out[k] = v;
  return out;
}

export function pluginId(config: Record<string, unknown>): string | undefined {
  const id = config.__plugin_id;
  return typeof id === "string" ? id : undefined;
}
