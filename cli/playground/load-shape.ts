// What the playground's load generator is told (main thread -> worker) and what it
// reports each second (worker -> main). Kept apart so the page's data endpoint and the
// worker agree on one shape.
import type { UserKey } from "./user-request";

export interface LoadSettings {
  /** pairs per second: each pair is the same request to Kong and to Envoy */
  rps: number;
  /** distinct returning users (ids u0 … u<users-1>) */
  users: number;
  /** 0–1: share of requests from returning users; the rest are new visitors without a key */
  returning: number;
}

export interface LoadTarget {
  kongPort: number;
  envoyPort: number;
  path: string;
  host: string | null;
  key: UserKey;
  /** the sticky cookie tandem issues, if any: new visitors keep it and come back with it */
  cookie: string | null;
  variantHeader: string;
  /** bumps when a policy is applied: moves of users between variants are counted from it */
  generation: number;
}

export type Source = "cookie" | "header" | "query" | "issued" | "none";

export interface Decision { t: number; user: string; variant: string; reason: string; status: number; ms: number }

export interface VariantSecond { n: number; ok: number; p95: number | null }

export interface GatewaySecond {
  variants: Record<string, VariantSecond>;
  sources: Partial<Record<Source, number>>;
  reasons: Record<string, number>;
  /** requests that got no answer (connection error) */
  errors: number;
}

export interface LoadSecond {
  t: number;
  kong: GatewaySecond;
  envoy: GatewaySecond;
  decisions: { kong: Decision[]; envoy: Decision[] };
  agreement: { users: number; compared: number; differ: number; lastDiffer: string | null; stateful: number };
  /** users whose variant changed between two of their requests since the last applied policy, "from→to": count (Kong's view) */
  moves: Record<string, number>;
  /** pairs not sent because too many were in flight (the gateways could not keep up) */
  skipped: number;
  sent: number;
}

export const LOAD_LIMITS = { rps: [0, 5000], users: [1, 100000], returning: [0, 1] } as const;
