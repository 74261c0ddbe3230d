// The built CLI as users run it, and the bad-input expectations the CLI tests share.
import { execFile } from "node:child_process";
import { expect } from "vitest";
import { CLI, ROOT, requireBuilt } from "./dist";

export interface CliRun { code: number; stdout: string; stderr: string }

export function tandem(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [requireBuilt(CLI), ...args], { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
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
