// `tandem schema`: the JSON Schema (draft-07, what yaml-language-server and most editors
// read) of a TrafficPolicy: every field with its type, default, range or enum and a
// description (docs/policy.md has the full text). Editors complete and check policy
// files with it (`# yaml-language-server: $schema=<file>`).
//
// The core stays the judge (wasm/core: the gateways run it): the schema holds the rules
// a schema can state, field by field; the core also checks what it cannot (weights
// that sum to 100, unique names, a regex's syntax, a rule naming a real variant,
// buckets dividing the window). test/cli/schema.test.ts runs generated policies through
// both: what the schema refuses, the core refuses; valid policies pass both.

import { UsageError } from "./usage-error";
import { VARIANT_HEADER } from "../core-js/tandem-core";

type S = Record<string, unknown>;

const obj = (description: string, properties: Record<string, S>, required: string[] = [], extra: S = {}): S =>
  ({ type: "object", description, properties, additionalProperties: false, ...(required.length ? { required } : {}), ...extra });
const str = (description: string, extra: S = {}): S => ({ type: "string", description, ...extra });
const int = (description: string, minimum: number, maximum: number, def?: number): S =>
  ({ type: "integer", description, minimum, maximum, ...(def !== undefined ? { default: def } : {}) });
const num = (description: string, minimum: number, maximum: number, def?: number): S =>
  ({ type: "number", description, minimum, maximum, ...(def !== undefined ? { default: def } : {}) });
const bool = (description: string, def: boolean): S => ({ type: "boolean", description, default: def });
const oneOfEnum = (description: string, values: string[], def?: string): S =>
  ({ type: "string", description, enum: values, ...(def !== undefined ? { default: def } : {}) });

const NAME = "^[A-Za-z0-9._-]{1,64}$";
const TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$";
const PERCENT = (d: string, def?: number) => num(`${d}: a percent, 0-100, at most 2 decimals`, 0, 100, def);
const DURATION = "^[0-9]+(ms|s|m|h|d)$";

const stringMatch: S = {
  type: "object",
  description: "A string match: exactly one of exact, prefix, suffix, contains, regex (RE2 syntax, linear time), present; plus ignoreCase and invert.",
  properties: {
    exact: str("equal to"), prefix: str("starts with"), suffix: str("ends with"), contains: str("contains"),
    regex: str("matches this RE2-syntax regex (no backreferences or lookaround)"),
    present: { type: "boolean", description: "the value is present (true) or absent (false)" },
    ignoreCase: bool("compare ignoring ASCII case", false), invert: bool("negate the result, a missing value included", false),
  },
  additionalProperties: false,
  oneOf: ["exact", "prefix", "suffix", "contains", "regex", "present"].map((k) => ({ required: [k] })),
};
const namedMatches = (what: string): S => ({ type: "object", description: `${what} name -> string match`, additionalProperties: stringMatch });

const rule: S = obj("A rule: when all of match's conditions hold, the request gets variant, or a sticky cohort split.", {
  match: obj("Conditions, all must hold", {
    header: namedMatches("header (names ignore case)"), cookie: namedMatches("cookie (the parsed Cookie header)"),
    query: namedMatches("query parameter (percent-decoded)"), path: stringMatch, method: stringMatch, host: stringMatch,
  }),
  variant: str("the variant the request gets", { pattern: NAME }),
  split: { type: "array", description: "a sticky cohort split: weights sum to 100", minItems: 1, items: obj("one share", { variant: str("a variant", { pattern: NAME }), weight: PERCENT("its share") }, ["variant", "weight"]) },
}, ["match"], { oneOf: [{ required: ["variant"] }, { required: ["split"] }] });
const rules: S = { type: "array", description: "Up to 64 rules, in order; the first that matches decides.", maxItems: 64, items: rule };

const hash = oneOfEnum("Bucketing: tandem, growthbook-v2 (GrowthBook SDK's), unleash (Unleash's; weights in steps of 0.1)", ["tandem", "growthbook-v2", "unleash"], "tandem");
const rollout: S = obj("A time-based rollout of one variant's weight", {
  variant: str("the variant rolled out (default: the last)", { pattern: NAME }),
  start: str("when step 0 starts, RFC 3339 (e.g. 2026-11-27T10:00:00Z)"),
  steps: { type: "array", description: "weights that only go up, each from start + after", minItems: 1, maxItems: 32,
    items: obj("a step", { weight: PERCENT("the variant's weight from then"), after: str("ms, s, m, h or d after start, e.g. 30m", { pattern: DURATION }) }, ["weight", "after"]) },
}, ["start", "steps"]);

const windowS: S = obj("The window outcomes are counted in", {
  type: oneOfEnum("count: the last size outcomes; time: the last sizeMs", ["count", "time"], "count"),
  size: int("count window: outcomes", 1, 10000, 100),
  sizeMs: int("time window: ms", 1, 3600000, 10000),
  buckets: int("time window: buckets (dividing sizeMs)", 1, 1000, 10),
});
const statusList = (d: string): S => ({ type: "array", description: d, uniqueItems: true,
  items: { description: "a status 100-599 or a class 1xx-5xx", oneOf: [{ type: "integer", minimum: 100, maximum: 599 }, { type: "string", pattern: "^([1-5]xx|[1-5][0-9][0-9])$" }] } });
const breakerFields: Record<string, S> = {
  window: windowS,
  minimumCalls: int("outcomes in the window before rates count", 1, 1000000, 20),
  failureRateThreshold: PERCENT("opens when the failure rate is at least this", 50),
  slowCallDurationMs: int("a call at least this slow is slow; 0 = off", 0, 86400000, 0),
  slowCallRateThreshold: PERCENT("opens when the slow-call rate is at least this", 100),
  consecutiveFailures: int("opens after this many failures in a row; 0 = off", 0, 10000, 0),
  halfOpen: obj("Half-open probing", { permittedCalls: int("probes", 1, 1000, 3), maxWaitMs: int("re-open when probes take longer than this, ms", 1, 86400000, 30000) }),
  failure: obj("What counts as a failure", {
    statuses: statusList("failing statuses (default [\"5xx\"])"), ignoreStatuses: statusList("statuses that count as neither (default [])"),
    errors: { type: "array", description: "transport errors that count as failures (default all)", uniqueItems: true, items: { enum: ["connect", "reset", "timeout"] } },
    grpcStatuses: { type: "array", description: "gRPC statuses that count as failures, for gRPC replies (default [4, 13, 14]); other codes succeed", uniqueItems: true, items: { type: "integer", minimum: 0, maximum: 16 } },
  }),
  mode: oneOfEnum("enforce; dry_run (never rejects); forced_open (rejects all); forced_closed (admits all)", ["enforce", "dry_run", "forced_open", "forced_closed"], "enforce"),
};
const { window: _w, ...guardShared } = breakerFields;
const guard: S = obj("A canary guard: rolls the variant's users back to `to` when it fails, then probes", {
  window: windowS, ...guardShared,
  cooldownMs: int("how long the variant stays rolled back before probing, ms", 1, 86400000, 30000),
  to: str("where the users go meanwhile: another variant without a guard (default: the first)", { pattern: NAME }),
});

const variant: S = obj("A variant", {
  name: str("unique name", { pattern: NAME }),
  weight: PERCENT("share of users; all weights sum to 100"),
  upstream: str("Kong: the Upstream set_upstream selects; Istio: the subset rendered for it", { minLength: 1 }),
  guard,
}, ["name", "weight"]);

const experiment: S = obj("A sticky weighted experiment: each user gets one variant, on both gateways", {
  name: str("experiment name (the default seed)", { pattern: NAME }),
  seed: str("hash seed (default: name); experiments with the same seed bucket users alike"),
  stickiness: obj("Where the user key comes from", {
    sources: { type: "array", description: "1-8 of cookie:<name>, header:<name>, query:<name>, ip; the first present wins (default [\"cookie:tandem-uid\"])",
      minItems: 1, maxItems: 8, uniqueItems: true, items: { type: "string", pattern: "^(ip|(cookie|header|query):.+)$" } },
    cookie: obj("The first-party cookie issued to new users; its name is one of the cookie: sources", {
      name: str("cookie name", { default: "tandem-uid", pattern: TOKEN }),
      maxAgeSeconds: int("0 = session cookie", 0, 34560000, 2592000),
      path: str("cookie path", { default: "/", pattern: "^/" }),
      domain: str("cookie domain: labels of letters, digits and -, joined by single dots; one leading dot allowed", { pattern: "^\\.?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$", maxLength: 254 }),
      secure: bool("Secure attribute", false), httpOnly: bool("HttpOnly attribute", true),
      sameSite: oneOfEnum("SameSite attribute (None needs secure: true)", ["Lax", "Strict", "None"], "Lax"),
    }),
  }),
  variantHeader: str("the request header that carries the variant upstream", { default: VARIANT_HEADER, pattern: TOKEN }),
  variants: { type: "array", description: "1-32 variants; weights sum to 100", minItems: 1, maxItems: 32, items: variant },
  scope: obj("Which requests the experiment applies to (default: all)", {
    hosts: { type: "array", description: "host names, *. wildcard prefix allowed", minItems: 1, items: { type: "string", minLength: 1 } },
    pathPrefixes: { type: "array", description: "path prefixes", minItems: 1, items: { type: "string", pattern: "^/" } },
  }),
  rules,
  hash,
  override: obj("QA override: x-tandem-force: <variant>.<HMAC-SHA256 hex>", {
    header: str("the override header", { default: "x-tandem-force", pattern: TOKEN }),
    secret: str("the HMAC key, at least 16 bytes", { minLength: 16 }),
    requireExpiry: bool("honour only tokens with an expiry", false),
  }, ["secret"]),
  rollout,
  exposeHeader: bool("add x-tandem-decision: <variant>; reason=... to the response", false),
  decisionLog: obj("The sampled decision log: one JSON line per sampled decided request in the gateway's log (docs/metrics.md)", {
    percent: PERCENT("share of decided requests logged, sampled by request id"),
  }, ["percent"]),
}, ["name", "variants"]);

const tagging: S = obj("A tagging experiment: a sticky variant per user, sent upstream in x-tandem-experiments, not routed", {
  name: str("unique name (the default seed)", { pattern: NAME }),
  seed: str("hash seed (default: name)"),
  variants: { type: "array", description: "1-32 variants; weights sum to 100", minItems: 1, maxItems: 32,
    items: obj("A variant", { name: str("unique name", { pattern: NAME }), weight: PERCENT("share of users") }, ["name", "weight"]) },
  rules, hash, rollout,
}, ["name", "variants"]);

const circuitBreaker: S = obj("A circuit breaker with per-key state", {
  key: str("upstream, route or header:<name>", { default: "upstream", pattern: "^(upstream|route|header:[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128})$" }),
  maxKeys: int("keys kept (least recently used forgotten)", 1, 65536, 1024),
  ...breakerFields,
  openDurationMs: int("how long the breaker stays open, ms", 1, 86400000, 30000),
  openBackoff: obj("Longer opens after failed probes", {
    multiplier: num("each re-open multiplies the open time", 1, 100, 2),
    maxMs: int("the longest open time, ms, at least openDurationMs", 1, 86400000),
  }),
});

const cache: S = obj("Serve the last good answer stored for the same request (RFC 9111 storage rules, stale-if-error); a miss passes to the next fallback", {
  methods: { type: "array", description: "methods whose responses are stored (default [GET, HEAD])", minItems: 1, uniqueItems: true, items: { enum: ["GET", "HEAD"] } },
  maxEntries: int("entries kept (least recently used evicted)", 1, 100000, 1000),
  maxBodyBytes: int("largest body stored, bytes (larger responses stream through, not stored)", 1, 1048576, 65536),
  ttlMs: int("how long an entry may be served after it was stored, ms", 1, 86400000, 300000),
  varyHeaders: { type: "array", description: "request headers whose values are part of the key (default [accept, accept-language])", maxItems: 16, items: { type: "string", pattern: TOKEN } },
  statuses: { type: "array", description: "statuses stored (default [200, 203, 204, 301, 404])", minItems: 1, uniqueItems: true, items: { enum: [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501] } },
  cacheAuthorized: bool("also store responses to requests with Authorization (shared by every caller unless varyHeaders has authorization)", false),
});

const fallbackOne: S = obj("What answers when the breaker rejects: exactly one of respond, reroute, cache", {
  respond: obj("A response of the gateway's own", {
    status: int("status", 100, 599, 503),
    headers: { type: "object", description: "at most 64 headers (not content-type: use contentType)", maxProperties: 64, additionalProperties: { type: "string", maxLength: 8192 } },
    body: str("body, at most 65536 bytes of UTF-8", { default: "" }),
    contentType: str("Content-Type (default text/plain; charset=utf-8 with a body)"),
    grpcStatus: int("to a gRPC request: a trailers-only 200 with this grpc-status and the body as grpc-message", 0, 16, 14),
  }),
  reroute: obj("Send the request elsewhere: exactly one of variant, upstream", {
    variant: str("one of spec.experiment's variants", { pattern: NAME }),
    upstream: str("an upstream, 1-256 characters without spaces", { pattern: "^[^\\s\\x00-\\x1f\\x7f]{1,256}$" }),
  }, [], { oneOf: [{ required: ["variant"] }, { required: ["upstream"] }] }),
  cache,
  on: { type: "array", description: "when it answers (default [open])", minItems: 1, uniqueItems: true, items: { enum: ["open", "upstreamFailure"] } },
}, [], { oneOf: [{ required: ["respond"] }, { required: ["reroute"] }, { required: ["cache"] }] });

const fallback: S = {
  description: "One fallback, or an ordered list ([cache, respond], [cache, reroute]): for each case the first fallback whose on covers it answers; a cache miss passes to the next",
  oneOf: [fallbackOne, { type: "array", minItems: 1, maxItems: 2, items: fallbackOne }],
};

const respondFields = (fallbackOne as { properties: Record<string, S> }).properties.respond as { properties: Record<string, S> };
const fault: S = obj("A fault: delay and/or abort the requests it applies to (the first fault that applies wins)", {
  name: str("unique name (default fault-<index>); a control token names it", { pattern: NAME }),
  match: (rule as { properties: Record<string, S> }).properties.match,
  variant: str("only requests routed to this variant of spec.experiment", { pattern: NAME }),
  delay: obj("Hold the request before it goes upstream", {
    fixedMs: int("the delay, ms (at most 30 s, below Kong's 60 s RPC timeout)", 0, 30000),
    percent: PERCENT("share of the requests it applies to that are delayed"),
  }, ["fixedMs", "percent"]),
  abort: obj("Answer instead of the upstream (after the delay when both are set)", {
    status: int("status", 200, 599),
    headers: respondFields.properties.headers,
    body: respondFields.properties.body,
    contentType: respondFields.properties.contentType,
    percent: PERCENT("share of the requests it applies to that are aborted"),
  }, ["status", "percent"]),
  by: oneOfEnum("the coin: request (a hash of the request id) or user (of the sticky user key: the same users every time; needs spec.experiment)", ["request", "user"], "request"),
  scope: oneOfEnum("gateway; upstream: the fault stands in for the upstream in the breaker's and the canary guards' outcomes (needs spec.circuitBreaker or a guard)", ["gateway", "upstream"], "gateway"),
  control: obj("Header control: a client may ask for this fault with a signed token, <kind>=<n>.<hex HMAC-SHA256(<kind>=<n>, secret)> with kind delay (ms) or abort (status); unsigned or forged tokens do nothing, the header never goes upstream", {
    header: str("the control header", { default: "x-tandem-fault", pattern: TOKEN }),
    secret: str("the HMAC key, at least 16 bytes", { minLength: 16 }),
  }, ["secret"]),
  maxActive: int("at most this many requests delayed at once (default: no limit)", 1, 1000000),
  enabled: bool("false: a kill switch", true),
  start: str("applies from, RFC 3339 (e.g. 2026-11-27T10:00:00Z)"),
  end: str("applies until, RFC 3339, after start"),
}, [], { anyOf: [{ required: ["delay"] }, { required: ["abort"] }, { required: ["control"] }] });
const faults: S = { type: "array", description: "Up to 32 faults, in order; the first that applies wins", maxItems: 32, items: fault };

export const TRAFFIC_POLICY_SCHEMA: S = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tandem.dev/schemas/traffic-policy.json",
  title: "TrafficPolicy",
  ...obj("A tandem traffic policy: one file, the same decision on Kong and Envoy. Fields: docs/policy.md.", {
    apiVersion: { const: "tandem.dev/v1alpha1", description: "tandem.dev/v1alpha1" },
    kind: { const: "TrafficPolicy", description: "TrafficPolicy" },
    metadata: obj("Kubernetes-style metadata", {
      name: str("policy name", { pattern: NAME }), namespace: str("namespace"),
      labels: { type: "object", description: "labels" }, annotations: { type: "object", description: "annotations" },
    }, ["name"]),
    spec: obj("The policy's parts", {
      experiment,
      experiments: { type: "array", description: "Up to 32 tagging experiments (need spec.experiment)", minItems: 1, maxItems: 32, items: tagging },
      circuitBreaker, fallback, faults,
      // Checked by the core field by field (wasm/core/config/resilience.ts); stated loosely here.
      retries: { type: "object", description: "Retries the gateways make (docs/policy.md)" },
      timeoutMs: { type: "integer", description: "The route's timeout, ms (docs/policy.md)" },
      connectionPool: { type: "object", description: "Connection limits per upstream (docs/policy.md)" },
      outlierDetection: { type: "object", description: "Passive health checks (docs/policy.md)" },
      upstreams: { type: "object", description: "Each gateway's name for a variant's upstream (read by tandem render): neutral name -> names",
        additionalProperties: obj("One upstream's names", {
          address: str("host:port for a local Envoy cluster or a Kong DB-less target"),
          kong: str("the Kong Upstream (KIC: <svc>.<ns>.<port>.svc)"),
          istio: obj("The Istio DestinationRule subset", { subset: str("subset name"), labels: { type: "object", description: "pod labels of the subset", additionalProperties: { type: "string" } } }),
        }) },
    }),
  }, ["apiVersion", "kind", "metadata", "spec"]),
};

export function schemaCommand(args: string[]): number {
  if (args.length > 0) throw new UsageError(`schema takes no arguments, got ${JSON.stringify(args[0])}`);
  process.stdout.write(JSON.stringify(TRAFFIC_POLICY_SCHEMA, null, 2) + "\n");
  return 0;
}
