// Traces and flags are checked as strictly as policies, messages name the file, and the
// conventions of well-made CLIs hold (--version, <command> --help). The built CLI, as
// users run it.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NO_STACK, fails, tandem } from "../support/cli-run";
import { ROOT } from "../support/dist";
import { BAD_HEADER_VALUE, FRAMING_HEADER, NESTED_TRIES, TRIES_ALONE } from "../../cli/simulate/trace";


const dir = mkdtempSync(join(tmpdir(), "tandem-cli-strict-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));   // leave no temp folder behind
const file = (name: string, text: string | Buffer) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const POLICY = "deploy/examples/checkout.yaml";
const TRACE = "deploy/examples/checkout.trace.jsonl";


async function misused(line: string, ...args: string[]): Promise<void> {
  const r = await tandem(...args);
  expect(r.stderr, r.stderr).not.toMatch(NO_STACK);
  expect(r.stderr.split("\n")[0]).toBe(line);
  expect(r.code).toBe(2);
}

describe("traces: unknown fields and bad values name the line", () => {
  it("a misspelled field is an error, not a new user", async () => {
    const t = file("typo.jsonl", '{"t": 0, "headers": {"x-user-id": "1"}}\n{"t": 1, "headerz": {"x-user-id": "1"}}\n');
    await fails(`${t}:2: unknown field "headerz" (expected t, method, path, headers, upstream, upstreams)`, "simulate", "--policy", POLICY, "--trace", t);
    const u = file("typo-upstream.jsonl", '{"t": 0, "upstream": {"status": 200, "latencyMS": 5}}\n');
    await fails(`${u}:1: upstream: unknown field "latencyMS" (expected status, latencyMs, error, grpcStatus, trailers, headers, body, streamMs, tries)`, "simulate", "--policy", POLICY, "--trace", u);
  });

  it("a header value is a string or a non-empty list of strings (a repeated header's copies)", async () => {
    const t = file("empty-list.jsonl", '{"t": 0, "headers": {"user-agent": []}}\n');
    await fails(`${t}:1: headers.user-agent: ${BAD_HEADER_VALUE}`, "simulate", "--policy", POLICY, "--trace", t);
    const u = file("number.jsonl", '{"t": 0, "headers": {"x-user-id": ["1", 2]}}\n');
    await fails(`${u}:1: headers.x-user-id: ${BAD_HEADER_VALUE}`, "simulate", "--policy", POLICY, "--trace", u);
  });

  it("an answer's headers and body (what the cache fallback stores) are checked like the request's", async () => {
    const cases: Array<[string, string]> = [
      ['{"t": 0, "upstream": {"status": 200, "headers": {"Content-Length": "3"}}}', `upstream.headers.Content-Length: ${FRAMING_HEADER}`],
      ['{"t": 0, "upstream": {"status": 200, "headers": {"etag": []}}}', `upstream.headers.etag: ${BAD_HEADER_VALUE}`],
      ['{"t": 0, "upstream": {"status": 200, "headers": {"Age": "1", "age": "2"}}}', "upstream.headers.age: given twice (names ignore case; a list sends copies)"],
      ['{"t": 0, "upstream": {"status": 200, "headers": ["etag"]}}', "upstream.headers: must be an object"],
      ['{"t": 0, "upstream": {"status": 200, "body": {"items": []}}}', 'upstream.body: must be a string, got {"items":[]}'],
      ['{"t": 0, "upstream": {"error": "connect", "body": "x"}}', "upstream: headers and body belong to an HTTP answer, not to an error or a gRPC answer"],
      ['{"t": 0, "upstreams": {"api": {"grpcStatus": 0, "headers": {"etag": "1"}}}}', "upstreams.api: headers and body belong to an HTTP answer, not to an error or a gRPC answer"],
    ];
    for (const [i, [line, msg]] of cases.entries()) {
      const t = file(`answer-${i}.jsonl`, line + "\n");
      await fails(`${t}:1: ${msg}`, "simulate", "--policy", POLICY, "--trace", t);
    }
  });

  it("an answer's tries (gateway retries) are each an answer, alone in their object, 1 to 11 of them", async () => {
    const cases: Array<[string, string]> = [
      ['{"t": 0, "upstream": {"tries": [{"error": "connect"}, {"status": 200, "latencyMS": 5}]}}', 'upstream.tries[1]: unknown field "latencyMS" (expected status, latencyMs, error, grpcStatus, trailers, headers, body, streamMs, tries)'],
      ['{"t": 0, "upstream": {"tries": [{"error": "connect"}], "status": 200}}', `upstream.status: ${TRIES_ALONE}`],
      ['{"t": 0, "upstream": {"tries": [{"tries": [{"status": 200}]}]}}', `upstream.tries[0].tries: ${NESTED_TRIES}`],
      ['{"t": 0, "upstream": {"tries": []}}', "upstream.tries: must be a list of 1-11 answers (the first try, then each retry), got []"],
      ['{"t": 0, "upstreams": {"api": {"tries": [{"error": "refused"}]}}}', 'upstreams.api.tries[0].error: must be connect, reset or timeout, got "refused"'],
    ];
    for (const [i, [line, msg]] of cases.entries()) {
      const t = file(`tries-${i}.jsonl`, line + "\n");
      await fails(`${t}:1: ${msg}`, "simulate", "--policy", POLICY, "--trace", t);
    }
    const twelve = file("tries-12.jsonl", `{"t": 0, "upstream": {"tries": [${Array(12).fill('{"status": 200}').join(", ")}]}}\n`);
    await fails(`${twelve}:1: upstream.tries: must be a list of 1-11 answers (the first try, then each retry), got [${Array(12).fill('{"status":200}').join(",")}]`, "simulate", "--policy", POLICY, "--trace", twelve);
  });

  it("a method that is not a token names the field", async () => {
    const t = file("method.jsonl", '{"t": 0, "method": "G ET"}\n');
    await fails(`${t}:1: method: must be an HTTP method (a token such as GET), got "G ET"`, "simulate", "--policy", POLICY, "--trace", t);
  });
});

describe("explain's request flags are checked", () => {
  it("--path, --method, --ip", async () => {
    await misused('tandem: --path must start with / and be printable ASCII (percent-encode the rest), got "cart"', "explain", "--policy", POLICY, "--path", "cart");
    await misused('tandem: --method must be an HTTP method (a token such as GET), got "G ET"', "explain", "--policy", POLICY, "--method", "G ET");
    await misused('tandem: --ip must be an IPv4 or IPv6 address, got "999.1.1.1"', "explain", "--policy", POLICY, "--ip", "999.1.1.1");
  });

  it("a request without a user key is a new user, the same one every run (--seed-entropy picks another)", async () => {
    const runs = await Promise.all([1, 2].map(() => tandem("explain", "--policy", POLICY)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(runs[0].stdout).toBe(runs[1].stdout);
    expect(runs[0].stdout).toContain('present: a new user, whose id comes from the request\'s entropy (--seed-entropy "explain"; another value shows another new user)');
    const buckets = new Set<string>();
    for (const seed of ["a", "b", "c", "d"]) {
      const r = await tandem("explain", "--policy", POLICY, "--seed-entropy", seed);
      buckets.add(/bucket: +(\d+)/.exec(r.stdout)![1]);
    }
    expect(buckets.size).toBeGreaterThan(1);
  });
});

describe("simulate flags", () => {
  it("--profile applies to --via core only", async () => {
    await misused("tandem: --profile applies to --via core only (--via kong answers as kong does)", "simulate", "--policy", POLICY, "--trace", TRACE, "--via", "kong", "--profile", "envoy");
  });
});

describe("messages", () => {
  it("a policy-rule error reads file: field.path: message", async () => {
    const p = file("weight.yaml", "apiVersion: tandem.dev/v1alpha1\nkind: TrafficPolicy\nmetadata: { name: t }\nspec:\n  experiment:\n    name: e\n    variants: [{ name: a, weight: 120 }]\n");
    const r = await tandem("validate", p);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${p.replace(/[.]/g, "\\.")}: experiment\\.variants\\[0\\]\\.weight: must be between 0 and 100, got 120\\n$`));
  });

  it("a binary file gets one short line with an escaped excerpt", async () => {
    const wasm = readFileSync(join(ROOT, "dist", "wasm", "tandem.wasm"));
    const p = file("binary.yaml", wasm.subarray(0, 400));
    await fails(`${p}: not a text file (a policy or trace is UTF-8 text), starts with "${escaped(wasm.subarray(0, 16))}…"`, "validate", p);
    const t = file("binary.jsonl", Buffer.from([0x7b, 0x00, 0xff, 0xfe]));
    await fails(`${t}: not a text file (a policy or trace is UTF-8 text), starts with "{\\x00\\xff\\xfe"`, "simulate", "--policy", POLICY, "--trace", t);
  });
});

function escaped(b: Buffer): string {
  return [...b].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`)).join("");
}

describe("conventions", () => {
  it("tandem --version", async () => {
    const r = await tandem("--version");
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(r.stdout).toBe(`tandem ${pkg.version}\n`);
  });

  it("<command> --help on every command: its usage on stdout, exit 0, nothing run", async () => {
    for (const cmd of ["validate", "simulate", "explain", "render", "playground", "schema"]) {
      const r = await tandem(cmd, "--help");
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: tandem ${cmd}`));
      expect(r.stderr).toBe("");
    }
  });

  it("generated paths are ignored by git", () => {
    const ignore = readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n");
    for (const p of ["out/", "dist/", "bench/.build/"]) expect(ignore).toContain(p);
  });
});
