// The QA override token (wasm/core/experiment/experiment.ts overridden): what verifies,
// what is refused — forged, replayed for another variant or expiry, truncated, expired —
// and that `requireExpiry` refuses tokens that never expire.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import { reasonName } from "../../core-js/tandem-core";
import { loadCore } from "../support/dist";

const SECRET = "override-secret-0123456789";
const mac = (signed: string, secret = SECRET) => createHmac("sha256", secret).update(signed).digest("hex");
const token = (variant: string, expiryS?: number) => {
  const signed = expiryS === undefined ? variant : `${variant}~${expiryS}`;
  return `${signed}.${mac(signed)}`;
};

function policy(extra: Record<string, unknown> = {}) {
  return {
    name: "qa", stickiness: { sources: ["header:x-user-id"] }, exposeHeader: true,
    override: { header: "x-tandem-force", secret: SECRET, ...extra },
    variants: [{ name: "stable", weight: 100 }, { name: "beta", weight: 0 }, { name: "v1.2", weight: 0 }, { name: "v1", weight: 0 }],
  };
}

describe("QA override tokens", () => {
  const core = loadCore();
  const NOW = 1_767_225_600_000;   // 2026-01-01T00:00:00Z, in ms
  function decide(p: Record<string, unknown>, force: string | undefined, nowMs = NOW) {
    const plan = core.configureExperiment(JSON.stringify(p));
    const headers: Record<string, string> = { "x-user-id": "u-1" };
    if (force !== undefined) headers["x-tandem-force"] = force;
    const d = core.decideExperiment(plan, answerNeeds(plan.needs, { headers }), nowMs);
    const out = `${plan.variants[d.variant].name} ${reasonName(d.reason)}`;
    expect(plan.clock).toBe(true);            // expiries need the adapter's clock
    core.release(plan);
    return out;
  }

  it("a token without expiry forces its variant; names with dots work", () => {
    expect(decide(policy(), token("beta"))).toBe("beta override");
    expect(decide(policy(), token("v1.2"))).toBe("v1.2 override");
    expect(decide(policy(), undefined)).toBe("stable split");
  });

  it("an expiring token works until its second, not at or after it", () => {
    const exp = NOW / 1000 + 60;
    expect(decide(policy(), token("beta", exp))).toBe("beta override");
    expect(decide(policy(), token("beta", exp), exp * 1000 - 1)).toBe("beta override");
    expect(decide(policy(), token("beta", exp), exp * 1000)).toBe("stable split");
    expect(decide(policy(), token("beta", NOW / 1000 - 1))).toBe("stable split");
  });

  it("forged, replayed and truncated tokens are refused", () => {
    const exp = NOW / 1000 + 60;
    const t = token("beta", exp);
    const cases = [
      `beta.${mac("beta", "another-secret-0123456")}`,              // another secret
      `v1.${mac("beta")}`,                                           // beta's MAC for v1
      `stable~${exp}.${mac(`beta~${exp}`)}`,                         // beta's expiring MAC for stable
      `beta~${exp + 3600}.${mac(`beta~${exp}`)}`,                    // the expiry pushed out
      `beta.${mac(`beta~${exp}`)}`,                                  // the expiry cut off
      t.slice(0, -1), t.slice(0, -10), `beta~.${mac("beta~")}`,      // truncated; empty expiry
      `beta~12x.${mac("beta~12x")}`, `beta~${"9".repeat(13)}.${mac(`beta~${"9".repeat(13)}`)}`,   // not digits; too long
      `beta~-5.${mac("beta~-5")}`, "beta", ".", "", `~1.${mac("~1")}`,
      `v1.2~${exp}.${mac(`v1~2~${exp}`)}`,
    ];
    for (const c of cases) expect(decide(policy(), c), c).toBe("stable split");
  });

  it("a token for v1 with an expiry never reads as a token for a variant named like it", () => {
    // "v1~2" cannot be a variant name, so "v1~2.<mac>" is v1 expiring at second 2 (past)
    expect(decide(policy(), token("v1", 2))).toBe("stable split");
    expect(decide(policy(), token("v1", NOW / 1000 + 5))).toBe("v1 override");
  });

  it("requireExpiry: tokens that never expire are refused, expiring ones work", () => {
    expect(decide(policy({ requireExpiry: true }), token("beta"))).toBe("stable split");
    expect(decide(policy({ requireExpiry: true }), token("beta", NOW / 1000 + 60))).toBe("beta override");
  });

  it("requireExpiry must be a boolean", () => {
    expect(() => core.configureExperiment(JSON.stringify(policy({ requireExpiry: "yes" })))).toThrow(
      'experiment.override.requireExpiry: must be a boolean, got "yes"',
    );
  });
});
