// fast-check arbitraries for fuzzing tandem: plugin configs mutated from valid ones
// (wrong types, out-of-range and non-finite numbers, unknown and missing fields, deep
// nesting, long and odd strings) and requests with odd header sets (non-ASCII and
// ill-formed UTF-8, huge cookies, hundreds of headers, empty keys, long paths).
import fc from "fast-check";

// How many cases a property runs: small in `npm test`, large in `npm run fuzz`.
export const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || 0;
export const runs = (quick: number) => (RUNS > 0 ? RUNS : quick);
// What a property ran, on stdout for `npm run fuzz` to report.
export function ran(name: string, cases: number): void {
  if (RUNS > 0) process.stdout.write(`fuzz: ${name}: ${cases} cases, all held\n`);
}
// `npm test` runs a fixed seed, so CI is repeatable; `npm run fuzz` (FUZZ_RUNS set) draws
// a new seed every run to explore. FUZZ_SEED=<n> replays the seed a failure printed.
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : RUNS > 0 ? undefined : 42;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

// Every path into a JSON tree (keys and indices), the root included.
export function paths(v: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) out.push(...paths(v[k], [...at, k]));
  return out;
}

function setAt(v: Json, path: Array<string | number>, f: (old: Json | undefined) => Json | undefined): Json {
  if (path.length === 0) return f(v) ?? null;
  const [h, ...rest] = path;
  if (Array.isArray(v)) {
    const c = [...v];
    const n = setAt(c[h as number], rest, f);
    if (rest.length === 0 && n === undefined) c.splice(h as number, 1); else c[h as number] = rest.length === 0 ? (f(c[h as number]) as Json) : n;
    return c;
  }
  if (v !== null && typeof v === "object") {
    const c = { ...v };
    if (rest.length === 0) { const n = f(c[h as string]); if (n === undefined) delete c[h as string]; else c[h as string] = n; }
    else c[h as string] = setAt(c[h as string], rest, f);
    return c;
  }
  return v;
}

// Numbers JSON.stringify cannot write (1e400 overflows to Infinity in JavaScript, but a
// gateway reads the text): spliced into the JSON text through a placeholder string.
const NON_FINITE = ["1e400", "-1e400", "1e-400", "123456789012345678901234567890"];
const PLACEHOLDER = "\u0000num:";

const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "..", ".", "a..b", "-", "stable", "canary", "x-tandem-variant", "host", "cookie:", "header:", "query:", "ip", "*", "(a+)+$", "[", "\\", "%00", "__proto__", "constructor"),
  fc.string({ minLength: 200, maxLength: 5000 }),
);
const oddNumber = fc.oneof(
  fc.integer(), fc.double(), fc.constantFrom(0, -0, -1, 1, 100, 100.001, 0.005, 99.999, 2 ** 31, 2 ** 53, -(2 ** 31), 1e21, 30001, 60000, 599, 600, 199),
  fc.constantFrom(...NON_FINITE).map((n) => PLACEHOLDER + n),
);
function deep(depth: number, leaf: Json): Json { let v = leaf; for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v }; return v; }
const oddValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: oddString },
  { weight: 3, arbitrary: oddNumber as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 2000 }).map((d) => deep(d, 1)) },
  { weight: 1, arbitrary: fc.array(fc.constant({ name: "v", weight: 1 }), { minLength: 30, maxLength: 300 }) as fc.Arbitrary<Json> },
);

type Mutation = { kind: "set"; value: Json } | { kind: "delete" } | { kind: "addKey"; key: string; value: Json };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: oddValue.map((value) => ({ kind: "set" as const, value })) },
  { weight: 2, arbitrary: fc.constant({ kind: "delete" as const }) },
  { weight: 2, arbitrary: fc.tuple(oddString, oddValue).map(([key, value]) => ({ kind: "addKey" as const, key, value })) },
);

// A valid config with 1-3 mutations at random places, as the JSON text a gateway reads.
export function mutatedConfig(bases: readonly Json[]): fc.Arbitrary<string> {
  return fc.constantFrom(...bases).chain((base) =>
    fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }).map((muts) => {
      let v = base;
      for (const [n, m] of muts) {
        const ps = paths(v);
        const p = ps[n % ps.length];
        if (m.kind === "set") v = setAt(v, p, () => m.value);
        else if (m.kind === "delete") v = p.length ? setAt(v, p, () => undefined) : v;
        else v = setAt(v, p, (old) => (old !== null && typeof old === "object" && !Array.isArray(old) ? { ...old, [m.key]: m.value } : old));
      }
      return JSON.stringify(v).replace(/"\\u0000num:([^"]+)"/g, "$1");
    }),
  );
}

// ---- requests ----

export interface FuzzRequest {
  // header pairs as the wire carries them: names lowercase, values as UTF-8 text
  headers: Array<[string, string]>;
  path: string;
  method: string;
  ip: string;
}

const tokenChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~".split(""));
const headerName = fc.oneof(
  fc.constantFrom("x-user-id", "cookie", "x-tier", "user-agent", "accept-language", "x-tandem-variant", "x-tandem-experiments", "x-tandem-override", "x-request-id", "x-forwarded-for", "x-a", "dnt"),
  fc.string({ unit: tokenChar, minLength: 1, maxLength: 30 }),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom("", " ", "stable", "canary", "gold", "on", "tandem-uid=", "tandem-uid=abc; a=b", "a=b;;;; tandem-uid=\"q\"", "=;=;", "%ff%fe"),
  fc.string({ minLength: 1000, maxLength: 66000, unit: fc.constantFrom("a", "=", ";", " ", "b") }),
).map((v) => v.replace(/[\r\n\0]/g, " "));
const pathArb = fc.oneof(
  fc.constantFrom("/", "/cart", "/api/v1/x?y=1&tandem=canary", "//admin", "/a/../admin", "/%61dmin", "/?", "/?&&&=", "/beta?x=%zz"),
  fc.webPath().map((p) => (p.startsWith("/") ? p : "/" + p)),
  fc.string({ minLength: 1000, maxLength: 8000, unit: fc.constantFrom("a", "/", "%", "?", "&", "=") }).map((s) => "/" + s),
);

export const requestArb: fc.Arbitrary<FuzzRequest> = fc.record({
  headers: fc.oneof(
    { weight: 5, arbitrary: fc.array(fc.tuple(headerName, headerValue), { maxLength: 12 }) },
    { weight: 1, arbitrary: fc.array(fc.tuple(headerName, fc.string({ maxLength: 8 })), { minLength: 100, maxLength: 500 }) },
  ),
  path: pathArb,
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"),
  ip: fc.oneof(fc.ipV4(), fc.constantFrom("10.0.0.1", "127.0.0.1")),
});
