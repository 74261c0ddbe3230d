// A plugin server that fails to start (exits before it listens) is ended by the harness:
// no respawn keeps running it and its socket folder leaves the temp dir. Before, the
// failed server was respawned every second (process.lua's rhythm) for the rest of the
// test process and its folder stayed.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PluginServer } from "../../sim/kong/plugin-server";

const work = mkdtempSync(join(tmpdir(), "tandem-start-test-"));
const before = process.env.TMPDIR;
afterEach(() => {
  if (before === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = before;
});

describe("Kong harness: a plugin server that never listens", () => {
  it("is ended, not respawned, and its folder is removed", async () => {
    const runs = join(work, "runs");
    const bin = join(work, "exits.js");
    // counts its starts, then exits like a server that cannot open its socket
    writeFileSync(bin, `require("fs").appendFileSync(${JSON.stringify(runs)}, "x"); process.exit(3);\n`);
    const temp = mkdtempSync(join(work, "tmp-"));
    process.env.TMPDIR = temp;       // where the harness makes its socket folder (os.tmpdir())
    await expect(PluginServer.start(work, { bin })).rejects.toThrow(/exited \(3\) before it listened/);
    await new Promise((r) => setTimeout(r, 1500));   // past process.lua's 1 s respawn delay
    expect(readFileSync(runs, "utf8")).toBe("x");
    expect(readdirSync(temp)).toEqual([]);
    rmSync(work, { recursive: true, force: true });
  });
});
