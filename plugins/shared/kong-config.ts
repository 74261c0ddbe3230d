// Kong hands a plugin its stored config (kong/runloop/plugins_iterator.lua
// get_plugin_config, Kong 3.9.3): the user's fields with unset ones removed, plus
// Kong's own keys — route_id / service_id / consumer_id (where the plugin is attached),
// plugin_instance_name (the entity's instance_name: the Kong Ingress Controller names
// every KongPlugin it creates), and __plugin_id, __ws_id, __key__, __seq__. Those are
// Kong's, not the user's: strip them before the core sees the config (the core rejects
// unknown fields, and a failed StartInstance makes Kong answer 500 on the route).
// (consumer_group_id is no Kong 3.9.3 OSS key; it stays stripped, as before, in case a
// Kong edition adds it.)
const KONG_KEYS = new Set(["route_id", "service_id", "consumer_id", "consumer_group_id", "plugin_instance_name"]);

export function userConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!k.startsWith("__") && !KONG_KEYS.has(k)) out[k] = v;
  return out;
}

export function pluginId(config: Record<string, unknown>): string | undefined {
  const id = config.__plugin_id;
  return typeof id === "string" ? id : undefined;
}
