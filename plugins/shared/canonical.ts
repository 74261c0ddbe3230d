// A plugin config as canonical text (keys sorted): Kong restarts plugin instances on
// any config change anywhere, and a restarted instance with the same config must keep
// its state (breaker keys, canary guards), so configs are compared by this text.
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return "{" + Object.keys(o).sort().map((k) => JSON.stringify(k) + ":" + canonical(o[k])).join(",") + "}";
  }
  return JSON.stringify(v ?? null);
}
