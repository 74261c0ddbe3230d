import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { PolicyDoc } from '../cli/policy-file';
import { TandemCore, type PartName } from '../core-js/tandem-core';

/** Repository root: the bundle runs from bench/.build/, so two levels up. */
export const ROOT = process.env.TANDEM_ROOT ?? path.resolve(__dirname, '..', '..');

/**
 * The build under test. bench/run.mjs copies dist/ right after `npm run build` into
 * bench/.build/dist (same layout), so every section measures the same bytes even if
 * someone rebuilds dist/ while the bench runs.
 */
export const DIST = process.env.TANDEM_BENCH_DIST ?? path.join(ROOT, 'dist');

export function distPath(rel: string): string {
  return path.join(DIST, rel);
}

/** spec.experiment of deploy/examples/checkout.yaml, as the gateways receive it. */
export function checkoutExperiment(): Record<string, unknown> {
  const doc = parse(readFileSync(path.join(ROOT, 'deploy', 'examples', 'checkout.yaml'), 'utf8'));
  return doc.spec.experiment;
}

/**
 * The `experiment` root id's config exactly as `tandem render` writes it for
 * deploy/examples/checkout.yaml (the core's policy plan, wasm/core/plan.ts):
 * spec.experiment plus `policy: checkout` and `hasFaults: false` (the policy has no faults).
 */
export function renderedCheckoutExperiment(): Record<string, unknown> {
  const doc = parse(readFileSync(path.join(ROOT, 'deploy', 'examples', 'checkout.yaml'), 'utf8')) as PolicyDoc;
  return planPart(doc, 'experiment')!.config;
}

let planner: TandemCore | undefined;
/** Part `part` of a policy's plan as the core compiles it (what `tandem render` writes), or null. */
export function planPart(doc: PolicyDoc, part: PartName): { config: Record<string, unknown>; kong: Record<string, unknown>; enabled: boolean } | null {
  planner ??= TandemCore.fromFile(distPath('wasm/tandem-core.wasm'));
  return TandemCore.part(planner.compilePolicy(JSON.stringify(doc)), part);
}

export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/**
 * The circuit-breaker configuration every breaker figure uses (the root id's / Kong
 * plugin's config: spec.circuitBreaker fields plus `fallback`): a count window of 100,
 * minimumCalls 20, failureRateThreshold 50, the other fields at their defaults (key
 * `upstream`, openDurationMs 30000, failure statuses 5xx), and a `respond` fallback.
 */
export const BREAKER_CONFIG = {
  window: { type: 'count', size: 100 },
  minimumCalls: 20,
  failureRateThreshold: 50,
  fallback: {
    respond: { status: 503, headers: { 'x-tandem-fallback': 'breaker' }, body: '{"items":[],"degraded":true}', contentType: 'application/json' },
  },
};

/** The body of the fallback answer (tells a rejection from an upstream's own 503). */
export const FALLBACK_BODY = BREAKER_CONFIG.fallback.respond.body;

/** Breaker keys (values of x-tandem-variant) and the share of 503 answers in the breaker mixes. */
export const BREAKER_KEYS = ['stable', 'canary', 'blue', 'green'];
export const BREAKER_FAILURE_SHARE = 0.05;

/**
 * 20 rules a checkout team could plausibly run in front of the canary (docs/policy.md
 * "Rules"), none of which matches any request of the bench mix (bench/requests.ts):
 * every request evaluates all 20 — the worst case for the rules' cost. Multi-condition
 * rules declare a condition the mix passes first where they can (the core runs a rule's
 * conditions cheapest first whatever the declared order, and the first that fails ends
 * the rule: wasm/core/rules/config.ts).
 * Each rule comes with a `probe`: header pairs that, replacing or adding to a request of
 * the mix, make exactly that rule the first match (the bench checks `reason=rule:<i>`,
 * so every rule is known to be configured and reachable).
 */
export const CHECKOUT_RULES: Array<{ rule: Record<string, unknown>; probe: Array<[string, string]> }> = [
  // 0. beta programme opt-in header
  { rule: { match: { header: { 'x-beta': { exact: 'yes', ignoreCase: true } } }, variant: 'canary' }, probe: [['x-beta', 'YES']] },
  // 1. staff accounts (the mix's header users are user-<n>)
  { rule: { match: { header: { 'x-user-id': { prefix: 'staff-' } } }, variant: 'canary' }, probe: [['x-user-id', 'staff-42']] },
  // 2. the new checkout UI, by cookie (parsed Cookie header)
  { rule: { match: { cookie: { experiment: { exact: 'new-ui' } } }, variant: 'canary' }, probe: [['cookie', 'tandem-uid=0123456789abcdef0123456789abcdef; experiment=new-ui']] },
  // 3. the QA team's cookie on the payment page
  { rule: { match: { cookie: { 'qa-team': { present: true } }, path: { prefix: '/checkout/payment' } }, variant: 'canary' }, probe: [['cookie', 'qa-team=1'], [':path', '/checkout/payment']] },
  // 4. spring promo links
  { rule: { match: { query: { promo: { prefix: 'SPRING' } } }, variant: 'canary' }, probe: [[':path', '/checkout/cart?promo=SPRING24']] },
  // 5. the new express checkout pages
  { rule: { match: { path: { prefix: '/checkout/express' } }, variant: 'canary' }, probe: [[':path', '/checkout/express/start']] },
  // 6. cart writes stay on stable (the mix reads the cart API with GET)
  { rule: { match: { path: { prefix: '/api/cart/' }, method: { exact: 'POST' } }, variant: 'stable' }, probe: [[':path', '/api/cart/items'], [':method', 'POST']] },
  // 7. EU storefronts stay on stable
  { rule: { match: { host: { suffix: '.eu.example.com' } }, variant: 'stable' }, probe: [[':authority', 'shop.eu.example.com']] },
  // 8. mobile browsers stay on stable (regex over the whole desktop user-agents of the mix)
  { rule: { match: { header: { 'user-agent': { regex: '^Mozilla/5\\.0 .*(Mobile|Android)' } } }, variant: 'stable' }, probe: [['user-agent', 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36']] },
  // 9. synthetic traffic without an Envoy-style request id (the mix's are UUIDs: the regex matches, invert fails)
  { rule: { match: { header: { 'x-request-id': { regex: '^[a-f0-9]{8}-', invert: true } } }, variant: 'stable' }, probe: [['x-request-id', 'synthetic-probe-7']] },
  // 10. crawlers
  { rule: { match: { header: { 'user-agent': { contains: 'bot', ignoreCase: true } } }, variant: 'stable' }, probe: [['user-agent', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)']] },
  // 11. non-browser clients
  { rule: { match: { header: { 'user-agent': { prefix: 'Mozilla/', invert: true } } }, variant: 'stable' }, probe: [['user-agent', 'curl/8.5.0']] },
  // 12. locales the new checkout is not translated into yet
  { rule: { match: { header: { 'accept-language': { regex: '^(de|fr|nl)([-,;]|$)' } } }, variant: 'stable' }, probe: [['accept-language', 'de-DE,de;q=0.9,en;q=0.8']] },
  // 13. plain-http requests behind the load balancer
  { rule: { match: { header: { 'x-forwarded-proto': { exact: 'http' } } }, variant: 'stable' }, probe: [['x-forwarded-proto', 'http']] },
  // 14. premium customers: their own sticky 50/50 cohort
  { rule: { match: { header: { 'x-tier': { exact: 'premium', ignoreCase: true } } }, split: [{ variant: 'stable', weight: 50 }, { variant: 'canary', weight: 50 }] }, probe: [['x-tier', 'Premium']] },
  // 15. explicit canary opt-in (internal tooling)
  { rule: { match: { header: { 'x-canary': { present: true } } }, variant: 'canary' }, probe: [['x-canary', '1']] },
  // 16. newsletter campaign traffic
  { rule: { match: { header: { referer: { contains: 'utm_campaign=newsletter' } } }, variant: 'canary' }, probe: [['referer', 'https://shop.example.com/?utm_source=mail&utm_campaign=newsletter']] },
  // 17. the UK storefront, English speakers (the mix passes the header, fails the host)
  { rule: { match: { header: { 'accept-language': { prefix: 'en', ignoreCase: true } }, host: { exact: 'shop.example.co.uk' } }, variant: 'canary' }, probe: [[':authority', 'shop.example.co.uk']] },
  // 18. returning users previewing (the mix's returning users pass the cookie, fail the query)
  { rule: { match: { cookie: { 'tandem-uid': { present: true } }, query: { preview: { exact: '1' } } }, variant: 'canary' }, probe: [[':path', '/checkout/cart?preview=1']] },
  // 19. the canary host name (the mix passes the method, fails the host)
  { rule: { match: { method: { exact: 'GET' }, host: { prefix: 'canary.' } }, variant: 'canary' }, probe: [[':authority', 'canary.shop.example.com']] },
];

/** The checkout policy with CHECKOUT_RULES prepended (same experiment otherwise). */
export function checkoutExperimentWithRules(): Record<string, unknown> {
  return { ...checkoutExperiment(), rules: CHECKOUT_RULES.map((r) => r.rule) };
}
