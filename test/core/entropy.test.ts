// Entropy for new sticky ids: what the adapters pass (core-js/answer-needs.ts) and
// how the core asks for it when an adapter fetches it on demand (Kong's request id:
// plugins/experiment/facts.ts). Through the production core (tandem-core.wasm).
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import { FactKind } from "../../core-js/tandem-core";
import { KEY_NEEDS_ENTROPY } from "../../plugins/experiment/facts";
import { loadCore } from "../support/dist";

const core = loadCore();
const plan = core.configureExperiment(JSON.stringify({
  name: "e", scope: { pathPrefixes: ["/shop"] },
  stickiness: { sources: ["cookie:uid", "header:x-user-id"], cookie: { name: "uid" } },
  variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }],
}));
const slot = plan.needs.findIndex((n) => n.kind === FactKind.Entropy);

function decide(headers: Record<string, string>, requestId?: string | null, path = "/shop") {
  const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers, path, requestId }), 0);
  return { ...d, keySource: core.lastKeySource(plan) };
}

describe("entropy answers", () => {
  it("the request's x-request-id first, else the gateway's request id, else random bytes; null leaves it absent", () => {
    const e = (headers: Record<string, string>, requestId?: string | null) => answerNeeds(plan.needs, { headers, requestId })[slot];
    expect(e({ "x-request-id": "hdr" }, "kong-id")).toBe("hdr");
    expect(e({}, "kong-id")).toBe("kong-id");
    expect(e({}, null)).toBeUndefined();
    const a = e({}), b = e({});
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).not.toBe(a);
  });
});

describe("a decision without entropy", () => {
  it("asks for entropy instead of deciding when the user has no key", () => {
    const d = decide({}, null);
    expect(d).toMatchObject({ variant: -1, setCookie: null, expose: null, keySource: KEY_NEEDS_ENTROPY });
    // given the entropy, the same request decides and issues the id derived from it
    const full = decide({}, "0123456789abcdef0123456789abcdef");
    expect(full.variant).toBeGreaterThanOrEqual(0);
    expect(full.keySource).toBe(-1);
    expect(full.setCookie).toMatch(/^uid=[0-9a-f]{32}; /);
    expect(decide({ "x-request-id": "0123456789abcdef0123456789abcdef" }, null).setCookie).toBe(full.setCookie);
  });

  it("never asks a user with a key, nor a request out of scope", () => {
    for (const headers of [{ cookie: "uid=u1" }, { "x-user-id": "u2" }] as Array<Record<string, string>>) {
      const d = decide(headers, null);
      expect(d.variant).toBeGreaterThanOrEqual(0);
      expect(d.keySource).toBeGreaterThanOrEqual(0);
      expect(d.setCookie).toBeNull();
    }
    expect(decide({}, null, "/static/x")).toMatchObject({ variant: -1, keySource: -1 });
  });
});
