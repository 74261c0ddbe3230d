// wasm/filter/secret-refs.ts: a secret given as "{vault://env/<name>}" (Kong's env-vault
// syntax, what `tandem render` writes for Istio and Envoy) is read from the VM's
// environment (vm_config.environment_variables) at configure, before the core reads the
// configuration; a missing variable refuses the configuration and keeps the previous one.
import { describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { WasmHost } from "../../sim/envoy";
import { FILTER_WASM } from "../support/dist";
import { CHECKOUT } from "../support/policies";

const REQ: [string, string][] = [[":method", "GET"], [":path", "/cart"], [":authority", "shop"], ["x-request-id", "r-1"], ["x-user-id", "u1"]];
// a secret JSON must escape, so the substitution is checked for quoting too
const SECRET = 'se"cret\\0123456789-abcdef';
const REF = "{vault://env/tandem-checkout-override-secret}";
const sign = (v: string, key = SECRET) => `${v}.${createHmac("sha256", key).update(v).digest("hex")}`;
const config = (secret: string) => JSON.stringify({ ...CHECKOUT, override: { header: "x-tandem-force", secret } });

function variantOf(host: WasmHost, token: string): string | undefined {
  const s = host.newStream();
  const r = s.requestHeaders([...REQ, ["x-tandem-force", token]], true);
  s.done();
  return r.headers.find(([k]: [string, string]) => k === "x-tandem-variant")?.[1];
}

describe("secret references in the filter's configuration", () => {
  it("takes the override secret from the VM's environment variable (upper case, '-' -> '_')", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: config(REF), envs: { OTHER: "x", TANDEM_CHECKOUT_OVERRIDE_SECRET: SECRET } });
    expect(host.failed).toBeFalsy();
    expect(variantOf(host, sign("canary"))).toBe("canary");
    expect(variantOf(host, sign("stable"))).toBe("stable");
    // the reference text itself is not the key: a token signed with it is ignored
    const natural = variantOf(host, "canary.deadbeef");
    const other = natural === "stable" ? "canary" : "stable";
    expect(variantOf(host, sign(other, REF))).toBe(natural);
    expect(host.logs.some((l: { message: string }) => l.message.includes(SECRET))).toBe(false);
  });

  it("refuses the configuration when the variable is missing, naming it, and keeps the previous one", async () => {
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: config("literal-secret-0123456789"), envs: {} });
    expect(host.configure(config(REF))).toBe(false);
    expect(host.logs.map((l: { message: string }) => l.message)).toContain(
      "tandem: experiment configuration rejected: secret reference: the proxy has no environment variable for TANDEM_CHECKOUT_OVERRIDE_SECRET ({vault://env/tandem-checkout-override-secret})");
    expect(variantOf(host, sign("canary", "literal-secret-0123456789"))).toBe("canary");
  });

  it("leaves other text alone: a secret that only looks like the start of a reference", async () => {
    const odd = "{vault://env/not closed";
    const host = await WasmHost.load({ wasm: FILTER_WASM, rootId: "experiment", configuration: config(odd), envs: {} });
    expect(host.failed).toBeFalsy();
    expect(variantOf(host, sign("canary", odd))).toBe("canary");
  });
});
