// The Kong plugin `experiment` on the real kong-js-pluginserver behind the Kong harness.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKong, type KongGateway } from "../harness/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { startBackends, get, type Backends } from "../support/backends";
import { ALL_CANARY, BAD_WEIGHT, BAD_WEIGHT_MESSAGE, CHECKOUT } from "../support/policies";

let be: Backends;
let gw: KongGateway;

beforeAll(async () => {
  be = await startBackends(["api-v1", "api-v2", "svc"]);
  gw = await startKong({
    plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: CHECKOUT }],
    upstreams: be.addrs, defaultUpstream: "svc",
  });
});
afterAll(async () => { await gw?.close(); await be?.close(); });

describe("experiment plugin on Kong", () => {
  it("sends each user to its variant's upstream via set_upstream, stickily", async () => {
    const first = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      const j = (await get(gw.port, "/", { "x-user-id": `u${i}` })).json();
      expect(j.backend).toBe(j.variant === "canary" ? "api-v2" : "api-v1");
      first.set(`u${i}`, j.variant!);
    }
    for (const [u, v] of first) expect((await get(gw.port, "/", { "x-user-id": u })).json().variant).toBe(v);
    expect(new Set(first.values())).toEqual(new Set(["stable", "canary"]));
  });

  it("issues a sticky cookie to new users next to the upstream's own, and honours it", async () => {
    const r = await get(gw.port, "/");
    const cookies = r.headers.getSetCookie();
    expect(cookies).toContain("app=1; Path=/");
    const ours = cookies.find((c) => c.startsWith("tandem-uid="))!;
    expect(ours).toMatch(/^tandem-uid=[0-9a-f]{32}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/);
    const again = await get(gw.port, "/", { cookie: ours.split(";")[0] });
    expect(again.headers.getSetCookie().some((c) => c.startsWith("tandem-uid="))).toBe(false);
    expect(again.json().variant).toBe(r.json().variant);
  });

  it("ignores a client-sent variant header", async () => {
    const stable = Array.from({ length: 40 }, (_, i) => `s${i}`);
    for (const u of stable) {
      const own = (await get(gw.port, "/", { "x-user-id": u })).json();
      const forged = (await get(gw.port, "/", { "x-user-id": u, "x-tandem-variant": own.variant === "canary" ? "stable" : "canary" })).json();
      expect(forged).toEqual(own);
    }
  });

  it("makes at most 5 RPC round trips in access and none in log", async () => {
    gw.resetStats();
    await get(gw.port, "/");                                  // new user: + Set-Cookie
    await get(gw.port, "/", { "x-user-id": "u1" });           // returning user
    await gw.logDone();
    const s = gw.rpcStats();
    expect(s.access).toEqual([5, 4]);                         // HandleEvent, get_headers, set_header, set_upstream[, add_header]
    expect(s.log.every((n) => n === 0)).toBe(true);           // no log phase at all
  });

  it("keeps the previous configuration when an update is invalid, and says why", async () => {
    await gw.configure("experiment", ALL_CANARY);
    expect((await get(gw.port, "/", { "x-user-id": "u7" })).json().variant).toBe("canary");
    gw.clearLogs();
    await gw.configure("experiment", BAD_WEIGHT);
    const r = await get(gw.port, "/", { "x-user-id": "u7" });
    expect(r.status).toBe(200);
    expect(r.json().variant).toBe("canary");
    // the plugin server's stderr reaches Kong's log asynchronously
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes(BAD_WEIGHT_MESSAGE); i++) {
      await new Promise((r) => setTimeout(r, 20));
      logs = gw.logs("debug").map((l) => l.message).join("\n");
    }
    expect(logs).toContain(`tandem: configuration rejected, previous configuration stays in force: ${BAD_WEIGHT_MESSAGE}`);
    await gw.configure("experiment", CHECKOUT);
  });
});

describe("experiment plugin with a bad first configuration", () => {
  it("refuses to start the instance with the core's message; Kong answers 500", async () => {
    const k = await startKong({
      plugins: [{ name: "experiment", dir: KONG_DIR("experiment"), config: BAD_WEIGHT }],
      upstreams: be.addrs, defaultUpstream: "svc",
    });
    try {
      const r = await get(k.port, "/");
      expect(r.status).toBe(500);
      expect(k.logs().map((l) => l.message).join("\n")).toContain(BAD_WEIGHT_MESSAGE);
    } finally {
      await k.close();
    }
  });
});
