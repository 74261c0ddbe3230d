// Every way a command can end leaves nothing behind: the built CLI as a user runs it,
// with its own temp dir (TMPDIR), then: no process whose command line names that dir
// (the Kong harness's kong-js-pluginserver runs with `-p <TMPDIR>/tandem-kong-…`) and
// no tandem-kong-* folder in it. Ends tried: normal, a pipe closed after the first line
// (`| head -1`), SIGINT and SIGTERM to the parent alone mid-run.
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, ROOT, requireBuilt } from "../support/dist";

const POLICY = "deploy/examples/circuit-breaker.yaml";
const TRACE = "deploy/examples/circuit-breaker.trace.jsonl";
const NO_STACK = /^\s+at /m;

// A trace long enough to still be running when the test interrupts it (~10 s via kong).
function longTrace(dir: string): string {
  const p = join(dir, "long.trace.jsonl");
  const lines: string[] = [];
  for (let i = 0; i < 5000; i++) lines.push(JSON.stringify({ t: i * 10, path: "/cart", headers: { "x-user-id": `u${i}` }, upstream: { status: 200 } }));
  writeFileSync(p, lines.join("\n") + "\n");
  return p;
}

interface Run { child: ChildProcess; tmp: string; stdout: () => string; firstLine: Promise<string>; ready: Promise<void>; done: Promise<{ code: number | null; signal: string | null; stderr: string }> }

const tmps: string[] = [];
// A failed test must not leave its leftovers running either.
afterAll(() => {
  for (const tmp of tmps) for (const p of processesNaming(tmp)) try { process.kill(Number(p.split(":")[0]), "SIGKILL"); } catch { /* gone */ }
  for (const tmp of tmps) rmSync(tmp, { recursive: true, force: true });   // leave no temp folder behind
});

function start(args: string[]): Run {
  const tmp = mkdtempSync(join(tmpdir(), "tandem-exit-"));
  tmps.push(tmp);
  const child = spawn(process.execPath, [requireBuilt(CLI), ...args], { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
  let out = "";
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once("exit", () => reject(new Error(`exited before a line: ${stderr}`)));
  });
  firstLine.catch(() => {});
  // The playground is up once it says how to stop it.
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => { if (out.includes("Ctrl-C to stop.")) resolve(); });
    child.once("exit", () => reject(new Error(`exited before ready: ${stderr}`)));
  });
  ready.catch(() => {});
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, stderr })));
  return { child, tmp, stdout: () => out, firstLine, ready, done };
}

// Processes whose command line mentions `dir`.
function processesNaming(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let cmd: string;
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8"); } catch { continue; }
    if (cmd.includes(dir)) found.push(`${pid}: ${cmd.replace(/\0/g, " ")}`);
  }
  return found;
}

// Nothing left: no process naming the temp dir, no tandem-kong-* folder in it. A
// SIGTERMed child takes a moment to go: wait up to 5 s for that, no longer.
async function nothingLeft(tmp: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (processesNaming(tmp).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(processesNaming(tmp)).toEqual([]);
  expect(readdirSync(tmp).filter((f) => f.startsWith("tandem-kong-"))).toEqual([]);
}

describe("a command leaves no process or temp folder behind", () => {
  it("on a normal end", async () => {
    const r = start(["simulate", "--policy", "deploy/examples/checkout.yaml", "--trace", "deploy/examples/checkout.trace.jsonl", "--via", "kong"]);
    const end = await r.done;
    expect(end.code, end.stderr).toBe(0);
    await nothingLeft(r.tmp);
  }, 120_000);

  it("when the reader closes the pipe after one line (| head -1): exit 0, no stack", async () => {
    const r = start(["simulate", "--policy", POLICY, "--trace", TRACE, "--via", "kong"]);
    expect(JSON.parse(await r.firstLine)).toHaveProperty("variant");
    r.child.stdout!.destroy();
    const end = await r.done;
    expect(end.stderr).not.toMatch(NO_STACK);
    expect(end.stderr).not.toContain("EPIPE");
    expect(end.code).toBe(0);
    await nothingLeft(r.tmp);
  }, 120_000);

  // Node writes to a pipe asynchronously: with a reader slower than the command, lines
  // wait in the process, and a plain process.exit dropped them (seen in CI: a simulate's
  // output cut after 282 of 600 lines, exit 0).
  it("when the reader is slower than the command: every line arrives, then exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-exit-trace-"));
    tmps.push(dir);
    const r = start(["simulate", "--policy", POLICY, "--trace", longTrace(dir), "--via", "core"]);
    const closed = new Promise((ok) => r.child.once("close", ok));   // exited, and its pipes read to the end
    await r.firstLine;
    r.child.stdout!.pause();     // ~500 KB of results: far more than a pipe holds
    await new Promise((ok) => setTimeout(ok, 4000));
    r.child.stdout!.resume();
    const end = await r.done;
    await closed;
    expect(end.code, end.stderr).toBe(0);
    const lines = r.stdout().split("\n");
    expect(lines.pop()).toBe("");          // ends with a newline
    expect(lines.length).toBe(5000);       // one result a request of the trace
    expect(JSON.parse(lines[4999])).toHaveProperty("variant");
  }, 120_000);

  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`on ${sig} to the parent alone mid-run: exit ${code}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "tandem-exit-trace-"));
      tmps.push(dir);
      const r = start(["simulate", "--policy", POLICY, "--trace", longTrace(dir), "--via", "kong"]);
      await r.firstLine;
      r.child.kill(sig);
      const end = await r.done;
      expect(end.stderr).not.toMatch(NO_STACK);
      expect(end.code).toBe(code);
      await nothingLeft(r.tmp);
    }, 120_000);
  }

  // SIGKILL: the CLI cannot clean up. Its Kong plugin servers (tandem-pluginserver, stdin a
  // pipe from the CLI as from Kong's ngx.pipe) read end-of-file and exit on their own; the
  // temp folder stays (nothing can remove it), the afterAll does.
  it("on SIGKILL to the parent mid-run: its plugin servers exit on their own", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tandem-exit-trace-"));
    tmps.push(dir);
    const r = start(["simulate", "--policy", POLICY, "--trace", longTrace(dir), "--via", "kong"]);
    await r.firstLine;
    expect(processesNaming(r.tmp).length).toBeGreaterThan(0);
    r.child.kill("SIGKILL");
    await r.done;
    const deadline = Date.now() + 5000;
    while (processesNaming(r.tmp).length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(processesNaming(r.tmp)).toEqual([]);
  }, 120_000);

  it("on SIGINT during the playground's start-up: exit 130", async () => {
    const r = start(["playground", "--kong-port", "0", "--envoy-port", "0", "--backend-port", "0", "--ui-port", "0"]);
    await r.firstLine;
    r.child.kill("SIGINT");
    const end = await r.done;
    expect(end.stderr).not.toMatch(NO_STACK);
    expect(end.code).toBe(130);
    await nothingLeft(r.tmp);
  }, 120_000);

  it("on the playground's Ctrl-C after start-up: exit 0", async () => {
    const r = start(["playground", "--kong-port", "0", "--envoy-port", "0", "--backend-port", "0", "--ui-port", "0"]);
    await r.ready;
    r.child.kill("SIGINT");
    const end = await r.done;
    expect(end.stderr).not.toMatch(NO_STACK);
    expect(end.code).toBe(0);
    await nothingLeft(r.tmp);
  }, 120_000);
});
