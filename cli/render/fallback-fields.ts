// Reading spec.fallback's shape: its list form and the upstream a reroute names, with
// the field path render's messages cite. Plugin configs themselves come from the core's
// plan (cli/policy-plan.ts).
// spec.fallback as a list of fallbacks (the single form is a list of one), and the
// field path of item i as the policy names it.
export function fallbackItems(fb: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(fb)) return fb.filter((x) => x && typeof x === "object") as Array<Record<string, unknown>>;
  return fb && typeof fb === "object" ? [fb as Record<string, unknown>] : [];
}

// The upstream a `reroute` fallback names, with its field path, or null.
export function rerouteTarget(fb: unknown): { upstream: string; path: string } | null {
  const list = Array.isArray(fb);
  let i = 0;
  for (const f of fallbackItems(fb)) {
    const u = (f.reroute as { upstream?: unknown } | undefined)?.upstream;
    if (typeof u === "string") return { upstream: u, path: list ? `fallback[${i}].reroute.upstream` : "fallback.reroute.upstream" };
    i++;
  }
  return null;
}

