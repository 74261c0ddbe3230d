import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** Repository root: the bundle runs from bench/.build/, so two levels up. */
export const ROOT = process.env.TANDEM_ROOT ?? path.resolve(__dirname, '..', '..');

export function distPath(rel: string): string {
  return path.join(ROOT, 'dist', rel);
}

/** spec.experiment of deploy/examples/checkout.yaml, as the gateways receive it. */
export function checkoutExperiment(): Record<string, unknown> {
  const doc = parse(readFileSync(path.join(ROOT, 'deploy', 'examples', 'checkout.yaml'), 'utf8'));
  return doc.spec.experiment;
}

export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}
