// The page's controls as the data endpoint takes them (POST /api/control, one JSON
// object with one of the keys below). Every value is checked here, with the field, the
// rule and the bad value named, before anything changes; the page checks the same
// bounds (it reads them from GET /api/state) so a person gets the message before sending.
// A new policy (weight, faults, example) is then the core's to accept or refuse.
import { LOAD_LIMITS } from "./load-shape";

export const CONTROL_LIMITS = {
  rps: LOAD_LIMITS.rps,
  users: LOAD_LIMITS.users,
  returningPercent: [0, 100],
  errorPercent: [0, 100],
  latencyMs: [0, 5000],
  weight: [0, 100],
} as const;

export type Control =
  | { load: { rps: number; users: number; returningPercent: number } }
  | { backend: { variant: string; errorPercent: number; latencyMs: number } }
  | { weight: { variant: string; weight: number } }
  | { faults: { enabled: boolean } }
  | { policy: { example: string } };

export class BadControl extends Error {}

const E_OBJECT = "must be a JSON object with one of load, backend, weight, faults, policy";
const E_ONE = "must have exactly one of load, backend, weight, faults, policy";
const E_NUMBER = "must be a number";
const E_INTEGER = "must be an integer";
const E_RANGE = (lo: number, hi: number) => `must be between ${lo} and ${hi}`;
const E_STRING = "must be a string";
const E_BOOLEAN = "must be true or false";
const E_FIELDS = "has unknown field";

const show = (v: unknown) => (v === undefined ? "nothing" : JSON.stringify(v) ?? String(v));

function obj(v: unknown, path: string, fields: string[]): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new BadControl(`${path}: must be an object, got ${show(v)}`);
  const extra = Object.keys(v).find((k) => !fields.includes(k));
  if (extra !== undefined) throw new BadControl(`${path}: ${E_FIELDS}, got ${JSON.stringify(extra)} (fields: ${fields.join(", ")})`);
  return v as Record<string, unknown>;
}

function num(v: unknown, path: string, [lo, hi]: readonly [number, number], integer = false): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadControl(`${path}: ${E_NUMBER}, got ${show(v)}`);
  if (integer && !Number.isInteger(v)) throw new BadControl(`${path}: ${E_INTEGER}, got ${v}`);
  if (v < lo || v > hi) throw new BadControl(`${path}: ${E_RANGE(lo, hi)}, got ${v}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "") throw new BadControl(`${path}: ${E_STRING}, got ${show(v)}`);
  return v;
}

/** One control from a request body; throws BadControl with "<field>: <rule>, got <value>". */
export function parseControl(body: unknown): Control {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new BadControl(`request: ${E_OBJECT}, got ${show(body)}`);
  const keys = Object.keys(body);
  if (keys.length !== 1) throw new BadControl(`request: ${E_ONE}, got ${keys.length === 0 ? "none" : keys.join(", ")}`);
  const b = body as Record<string, unknown>;
  const L = CONTROL_LIMITS;
  if ("load" in b) {
    const o = obj(b.load, "load", ["rps", "users", "returningPercent"]);
    return { load: { rps: num(o.rps, "load.rps", L.rps, true), users: num(o.users, "load.users", L.users, true), returningPercent: num(o.returningPercent, "load.returningPercent", L.returningPercent) } };
  }
  if ("backend" in b) {
    const o = obj(b.backend, "backend", ["variant", "errorPercent", "latencyMs"]);
    return { backend: { variant: str(o.variant, "backend.variant"), errorPercent: num(o.errorPercent, "backend.errorPercent", L.errorPercent), latencyMs: num(o.latencyMs, "backend.latencyMs", L.latencyMs, true) } };
  }
  if ("weight" in b) {
    const o = obj(b.weight, "weight", ["variant", "weight"]);
    return { weight: { variant: str(o.variant, "weight.variant"), weight: num(o.weight, "weight.weight", L.weight) } };
  }
  if ("faults" in b) {
    const o = obj(b.faults, "faults", ["enabled"]);
    if (typeof o.enabled !== "boolean") throw new BadControl(`faults.enabled: ${E_BOOLEAN}, got ${show(o.enabled)}`);
    return { faults: { enabled: o.enabled } };
  }
  if ("policy" in b) {
    const o = obj(b.policy, "policy", ["example"]);
    return { policy: { example: str(o.example, "policy.example") } };
  }
  throw new BadControl(`request: ${E_OBJECT}, got ${keys.join(", ")}`);
}

interface VariantDoc { name: string; weight?: number }

/**
 * The experiment with `variant` at `weight` and the rest shared by the other variants in
 * proportion to their weights (all of it to the first other when they are all 0), to
 * 2 decimals, the residue on the first other. Weights are the core's to check after.
 */
export function reweigh(variants: VariantDoc[], variant: string, weight: number): VariantDoc[] {
  const i = variants.findIndex((v) => v.name === variant);
  if (i < 0) throw new BadControl(`weight.variant: must name one of the experiment's variants (${variants.map((v) => v.name).join(", ")}), got ${JSON.stringify(variant)}`);
  const others = variants.map((_, j) => j).filter((j) => j !== i);
  if (others.length === 0 && weight !== 100) throw new BadControl(`weight.weight: a single variant must weigh 100, got ${weight}`);
  const rest = 100 - weight;
  const total = others.reduce((s, j) => s + (variants[j].weight ?? 0), 0);
  const out = variants.map((v) => ({ ...v }));
  out[i].weight = weight;
  let given = 0;
  for (const j of others.slice(1)) {
    const w = total === 0 ? 0 : Math.round(((variants[j].weight ?? 0) / total) * rest * 100) / 100;
    out[j].weight = w;
    given += w;
  }
  if (others.length > 0) out[others[0]].weight = Math.round((rest - given) * 100) / 100;
  return out;
}
