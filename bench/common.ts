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
