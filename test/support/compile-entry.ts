// Compiles a core test entry (wasm/core/testing/*.ts) with the installed asc and the
// "core" target of asconfig.json, cached by the hash of the core's sources (and the extra
// flags), so test files share one compile. The cache is node_modules/.cache (where build
// tools keep theirs), not the temp dir: a test run leaves nothing in /tmp.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..", "..");

function sourcesHash(extra: string[]): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts")) { h.update(p); h.update(readFileSync(p)); }
    }
  };
  walk(join(ROOT, "wasm", "core"));
  h.update(readFileSync(join(ROOT, "asconfig.json")));
  h.update(extra.join(" ") + " steps");
  return h.digest("hex").slice(0, 16);
}

// Path of the compiled module for `entry` (relative to the repo); extraArgs e.g. ["--runtime", "stub"].
export function compileTestEntry(entry: string, extraArgs: string[] = []): string {
  const name = basename(entry, ".ts");
  const dir = join(ROOT, "node_modules", ".cache", "tandem-core-tests");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}-${sourcesHash(extraArgs)}.wasm`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp.wasm`;
  const asc = join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
  // Test builds count work steps (wasm/core/text/steps.ts): linear-time checks count, never time.
  execFileSync(process.execPath, [asc, entry, "--config", "asconfig.json", "--target", "core", "--outFile", tmp, "--use", "TANDEM_COUNT_STEPS=1", ...extraArgs], {
    cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
  });
  renameSync(tmp, out);   // atomic: parallel test files may compile the same module
  return out;
}
