// Right after `npm ci` there is no dist/: the installed launcher (bin/tandem.js, what
// `npx tandem` runs) builds on first use and then runs the command. Run in a copy of
// the repository without dist/ (sources linked, the launcher and build script copied
// so they resolve that copy as their root): a full build, so this test takes a while.
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/dist";

const COPIED = ["bin", "scripts"];
const SKIPPED = new Set(["dist", ".git", "bench", "test", "coverage"]);

function freshClone(): string {
  const dir = mkdtempSync(join(tmpdir(), "tandem-first-run-"));
  for (const name of readdirSync(ROOT)) {
    if (SKIPPED.has(name) || name.startsWith(".")) continue;
    if (COPIED.includes(name)) {
      mkdirSync(join(dir, name));
      for (const f of readdirSync(join(ROOT, name))) copyFileSync(join(ROOT, name, f), join(dir, name, f));
    } else symlinkSync(join(ROOT, name), join(dir, name));
  }
  return dir;
}

describe("the CLI right after npm ci", () => {
  it("builds on first use, then runs the command; stdout is the command's alone", async () => {
    const dir = freshClone();
    expect(existsSync(join(dir, "dist"))).toBe(false);
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(dir, "bin", "tandem.js"), "validate", "deploy/examples/checkout.yaml"], { cwd: dir, timeout: 600_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
    });
    expect(r.stderr).not.toMatch(/Cannot find module/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^tandem: no build yet: running npm run build once/);
    expect(r.stdout).toMatch(/^deploy\/examples\/checkout\.yaml: valid TrafficPolicy checkout \(experiment[^)]*\)\n$/);
    expect(existsSync(join(dir, "dist", "cli", "tandem.js"))).toBe(true);
    rmSync(dir, { recursive: true, force: true });   // the links, not what they point at
  }, 600_000);
});
