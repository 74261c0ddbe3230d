// The built CLI as users run it, and the bad-input expectations the CLI tests share.
import { execFile } from "node:child_process";
import { expect } from "vitest";
import { CLI, ROOT, requireBuilt } from "./dist";

export interface CliRun { code: number; stdout: string; stderr: string }

// Exit code and output of one run. The limits only stop a hung run: a simulate of an
// example trace through the Kong harness takes tens of seconds on a loaded machine and
// prints megabytes with --metrics.
export function tandem(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [requireBuilt(CLI), ...args], { cwd: ROOT, timeout: 240_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// `simulate --policy <policy> --trace <trace>` through the core as each gateway answers
// (--profile kong / envoy) and through the Kong and Envoy harnesses: each run's stdout by
// "core/kong", "core/envoy", "kong", "envoy" (every run must exit 0).
export async function simulateEveryWay(policy: string, trace: string, ...extra: string[]): Promise<Record<string, string>> {
  const results: Record<string, string> = {};
  for (const [via, profile] of [["core", "kong"], ["core", "envoy"], ["kong", null], ["envoy", null]] as const) {
    const r = await tandem("simulate", "--policy", policy, "--trace", trace, "--via", via, ...(profile ? ["--profile", profile] : []), ...extra);
    expect(r.code, r.stderr).toBe(0);
    results[profile ? `core/${profile}` : via] = r.stdout;
  }
  return results;
}

// A Node stack trace line: never printed to a user.
export const NO_STACK = /^\s+at /m;

// exit 1, exactly `line` on stderr
export async function fails(line: string, ...args: string[]): Promise<void> {
  const r = await tandem(...args);
  expect(r.stderr, r.stderr).not.toMatch(NO_STACK);
  expect(r.stderr).toBe(line + "\n");
  expect(r.code).toBe(1);
}
