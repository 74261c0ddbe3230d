import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

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
