// Kong hands a plugin its stored config: every schema field present (null where
// unset) plus bookkeeping keys (__seq__, __plugin_id, __key__). The core ignores
// nulls itself; the bookkeeping keys are Kong's, not the user's, so they go here.
export function userConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!k.startsWith("__")) out[k] = v;
  return out;
}

export function pluginId(config: Record<string, unknown>): string | undefined {
  const id = config.__plugin_id;
  return typeof id === "string" ? id : undefined;
}
