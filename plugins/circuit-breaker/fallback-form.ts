// Kong's schema types each field as one shape, so `tandem render` writes spec.fallback's
// ordered list form under the Kong-only field `fallbacks` (./schema.ts) and the single
// form under `fallback`. Before the core sees the config the list goes back under
// `fallback`: the core then reads exactly what the Envoy filter reads and names the
// same field paths (fallback[0].cache.ttlMs) in its errors.
import { CoreError } from "../../core-js/tandem-core";

// Kong stores an unset record as a record of nulls: absent too (as the core reads it).
function absent(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  return typeof v === "object" && !Array.isArray(v) && Object.values(v as Record<string, unknown>).every((x) => x === null);
}

export const E_BOTH_FORMS = "fallbacks: set either fallback (one) or fallbacks (the ordered list), not both";

// `user` without Kong's keys; returns the config the core reads (a copy when changed).
export function fallbackForm(user: Record<string, unknown>): Record<string, unknown> {
  if (!("fallbacks" in user)) return user;
  const { fallbacks, ...rest } = user;
  if (fallbacks === null || fallbacks === undefined) return rest;
  if (!absent(rest.fallback)) throw new CoreError(E_BOTH_FORMS);
  return { ...rest, fallback: fallbacks };
}
