// The path rules and scope.pathPrefixes test (wasm/core/request/path.ts): one documented
// normalization, so that Kong (the raw request URI) and Envoy (:path after Istio's
// pathNormalization) give the same decision for the same request.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";
import type { ExperimentPlan } from "../../core-js/tandem-core";
import { normalizePath as envoyNormalize } from "../../sim/envoy/path-normalization";

const core = loadCore();
const VARIANTS = [{ name: "stable", weight: 100 }, { name: "canary", weight: 0 }];

function plan(extra: Record<string, unknown>): ExperimentPlan {
  return core.configureExperiment(JSON.stringify({ name: "exp", stickiness: { sources: ["header:x-user-id"] }, variants: VARIANTS, ...extra }));
}
function variant(p: ExperimentPlan, path: string): string | null {
  const d = core.decideExperiment(p, answerNeeds(p.needs, { headers: { "x-user-id": "u1", host: "h" }, path, method: "GET", ip: "1.2.3.4" }), 0);
  return d.variant >= 0 ? p.variants[d.variant].name : null;
}

// The documented algorithm, written again from docs/policy.md (an independent model).
function model(target: string): string {
  const path = target.split(/[?#]/)[0];
  let s = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    const hex = path.slice(i + 1, i + 3);
    if (c === "%" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      const ch = String.fromCharCode(parseInt(hex, 16));
      s += /[A-Za-z0-9\-._~]/.test(ch) ? ch : "%" + hex.toUpperCase();
      i += 2;
    } else if (c === "\\") s += "/";
    else if (c !== "%" && (c <= " " || c >= "\x7f" || '"<>`{|}^'.includes(c))) s += "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0");
    else s += c;
  }
  if (!s.startsWith("/")) return s;
  const out: string[] = [];
  const segs = s.split("/").slice(1);
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === "." || seg === "..") {
      if (seg === "..") out.pop();
      if (last) out.push("");
    } else out.push(seg);
  });
  return ("/" + out.join("/")).replace(/\/{2,}/g, "/");
}

describe("path normalization", () => {
  const exact = plan({ rules: [{ match: { path: { exact: "/admin" } }, variant: "canary" }] });
  const prefix = plan({ rules: [{ match: { path: { prefix: "/admin" } }, variant: "canary" }] });
  const scoped = plan({ scope: { pathPrefixes: ["/admin"] } });

  it("a rule decides the same for /a/../admin, //admin, /%61dmin; /admin%2F.. is its own path", () => {
    for (const p of ["/admin", "/a/../admin", "//admin", "/%61dmin", "/%2e%2e/admin", "/a\\..\\admin", "/x/./../admin", "/admin/.", "/admin?x=/../y"]) {
      expect(variant(prefix, p), p).toBe("canary");
      expect(variant(scoped, p), p).toBe("stable");
    }
    for (const p of ["/admin", "/a/../admin", "//admin", "/%61dmin", "/%2E%2E/admin", "///admin?q"]) expect(variant(exact, p), p).toBe("canary");
    expect(variant(exact, "/admin%2F..")).toBe("stable");     // an encoded slash is data: the segment is "admin%2F.."
    expect(variant(prefix, "/admin%2F..")).toBe("canary");
    expect(variant(exact, "/admin/.")).toBe("stable");        // "/admin/"
    expect(variant(prefix, "/adm/../x/admin")).toBe("stable");
    expect(variant(scoped, "/public/../x")).toBeNull();
    expect(variant(scoped, "/ADMIN")).toBeNull();              // no case folding
  });

  it("follows the documented algorithm, and gives the same answer on the raw path and on Envoy's (NONE, BASE, MERGE_SLASHES)", () => {
    const parts = ["/", "/", "a", "b", ".", "..", "%2e", "%2E", "%2f", "%2F", "%61", "%7e", "%", "%4", "\\", "\"", "^", "~", "x%20y", "%c3%a9"];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let k = 0; k < 150; k++) {
      let path = "/";
      for (let j = 0, n = 1 + rnd(7); j < n; j++) path += parts[rnd(parts.length)];
      const want = model(path);
      const p = plan({ rules: [{ match: { path: { exact: want } }, variant: "canary" }] });
      try {
        expect(variant(p, path), `${path} -> ${want}`).toBe("canary");
        for (const mode of ["BASE", "MERGE_SLASHES"] as const) {
          const viaEnvoy = envoyNormalize(path, mode);
          if (viaEnvoy !== null) expect(variant(p, viaEnvoy), `${mode}: ${path} -> ${viaEnvoy}`).toBe("canary");
        }
      } finally {
        core.release(p);
      }
    }
  });
});
