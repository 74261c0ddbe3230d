// The Kong plugin `experiment` on the real kong-js-pluginserver behind the Kong harness.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { startBackends, get, type Backends } from "../support/backends";
import { ALL_CANARY, BAD_WEIGHT, BAD_WEIGHT_MESSAGE, CHECKOUT, TAGGED } from "../support/policies";
import { request } from "node:http";
import { loadCore } from "../support/dist";
import { answerNeeds } from "../../core-js/answer-needs";

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

  it("makes at most 5 RPC round trips in access and 1 in log", async () => {
    gw.resetStats();
    await get(gw.port, "/", { "x-request-id": "rid-1" });     // new user: + Set-Cookie (x-request-id: no get_var)
    await get(gw.port, "/", { "x-user-id": "u1" });           // returning user
    await gw.logDone();
    const s = gw.rpcStats();
    expect(s.access).toEqual([5, 4]);                         // HandleEvent, get_headers, set_header, set_upstream[, add_header]
    expect(s.log).toEqual([1, 1]);                            // HandleEvent only: no canary guards
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

// spec.experiments: the tags header (plugins/experiment/tags.ts).
describe("experiment plugin with tagging experiments", () => {
  const core = loadCore();
  const plan = core.configureExperiment(JSON.stringify(TAGGED));
  const expected = (headers: Record<string, string>, path: string) =>
    core.decideExperiment(plan, answerNeeds(plan.needs, { headers, path, method: "GET" }), 0).tags;
  let tg: KongGateway;
  beforeAll(async () => {
    tg = await startKong({
      plugins: [{ name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: TAGGED }],
      upstreams: be.addrs, defaultUpstream: "svc",
    });
  });
  afterAll(async () => { await tg?.close(); });

  // Node sends each element of an array value as its own header line: real duplicates.
  const FORGED = ["recs=B; pricing=high", "recs=A"];
  const upstreamSaw = async (path: string, headers: Record<string, string | string[]>) => {
    const before = be.seen.length;
    const status = await rawGet(tg.port, path, headers);
    expect(status).toBe(200);
    expect(be.seen.length).toBe(before + 1);
    return be.seen[before].headers;
  };

  it("sends the core's tags upstream in scope, replacing every client copy", async () => {
    const values = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const h = { "x-user-id": `t${i}`, ...(i % 3 === 0 ? { "x-plan": "pro" } : {}) };
      const saw = await upstreamSaw("/shop/cart", { ...h, "x-tandem-experiments": FORGED });
      expect(saw["x-tandem-experiments"]).toBe(expected(h, "/shop/cart"));
      expect(saw["x-tandem-variant"]).toMatch(/^(stable|canary)$/);
      values.add(saw["x-tandem-experiments"] as string);
      if (i % 3 === 0) expect(saw["x-tandem-experiments"]).toMatch(/; pricing=high$/);
    }
    expect(values.size).toBeGreaterThan(2);
  });

  it("removes client copies out of scope and adds none", async () => {
    const saw = await upstreamSaw("/static/app.js", { "x-user-id": "t1", "x-tandem-experiments": FORGED });
    expect(saw["x-tandem-experiments"]).toBeUndefined();
    expect(saw["x-tandem-variant"]).toBeUndefined();
  });

  it("removes client copies for a policy without tagging experiments too", async () => {
    const before = be.seen.length;
    expect(await rawGet(gw.port, "/", { "x-user-id": "t1", "x-tandem-experiments": FORGED })).toBe(200);
    expect(be.seen[before].headers["x-tandem-experiments"]).toBeUndefined();
  });

  it("costs no RPC in scope (set_headers carries variant and tags), one clear_header for a forged copy out of scope", async () => {
    tg.resetStats();
    await rawGet(tg.port, "/shop/cart", { "x-user-id": "u1" });                          // in scope
    await rawGet(tg.port, "/shop/cart", { "x-user-id": "u1", "x-tandem-experiments": FORGED });
    await rawGet(tg.port, "/static/x", { "x-user-id": "u1" });                           // out of scope
    await rawGet(tg.port, "/static/x", { "x-user-id": "u1", "x-tandem-experiments": "recs=B" });
    // HandleEvent, get_headers, get_path_with_query, set_headers, set_upstream: as without tags
    expect(tg.rpcStats().access).toEqual([5, 5, 3, 4]);
  });
});

function rawGet(port: number, path: string, headers: Record<string, string | string[]>): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => { res.resume(); res.on("end", () => ok(res.statusCode!)); });
    req.on("error", fail);
    req.end();
  });
}

// New users' sticky ids from Kong's own request id ($kong_request_id, the value of
// X-Kong-Request-Id): one kong.nginx.get_var RPC, only for a user with no key whose
// request carries no x-request-id (plugins/experiment/facts.ts).
describe("experiment plugin: new users' ids from Kong's request id", () => {
  const core = loadCore();   // the core the plugin runs, here given the same facts
  const plan = core.configureExperiment(JSON.stringify(CHECKOUT));
  const ours = (r: { headers: Headers }) => r.headers.getSetCookie().find((c) => c.startsWith("tandem-uid="));
  const coreSays = (v: { headers?: Record<string, string>; requestId?: string }) =>
    core.decideExperiment(plan, answerNeeds(plan.needs, { headers: v.headers ?? {}, requestId: v.requestId }), 0);

  it("derives a new user's id from Kong's request id when the request has no x-request-id", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await get(gw.port, "/");
      const rid = r.headers.get("x-kong-request-id")!;
      expect(rid).toMatch(/^(?:[0-9a-f]{6}[0-7][0-9a-f]){4}$/);   // four ngx_random() draws, little-endian hex
      const want = coreSays({ requestId: rid });
      expect(want.setCookie).toMatch(/^tandem-uid=[0-9a-f]{32}; /);
      expect(ours(r)).toBe(want.setCookie);
      expect(r.json().variant).toBe(plan.variants[want.variant].name);
      // the id Envoy issues for a request whose x-request-id has that value
      expect(coreSays({ headers: { "x-request-id": rid } }).setCookie).toBe(want.setCookie);
      ids.add(want.setCookie!);
    }
    expect(ids.size).toBe(30);
  });

  it("a CORS preflight gets no variant and no cookie, for one get_method; the header alone costs nothing more", async () => {
    const opts = async (headers: Record<string, string>) => {
      const res = await fetch(`http://127.0.0.1:${gw.port}/`, { method: "OPTIONS", headers });
      const text = await res.text();
      return { headers: res.headers, json: () => JSON.parse(text) as { variant: string | null } };
    };
    gw.resetStats();
    const pre = await opts({ origin: "https://shop.example", "access-control-request-method": "POST", "x-request-id": "pf-1" });
    const plainOptions = await opts({ "x-request-id": "pf-2" });
    const notPre = await get(gw.port, "/", { "access-control-request-method": "POST", "x-user-id": "u1" });
    const s = gw.rpcStats();
    expect(pre.json().variant).toBeNull();
    expect(ours(pre)).toBeUndefined();
    expect(plainOptions.json().variant).not.toBeNull();
    expect(ours(plainOptions)).toMatch(/^tandem-uid=/);
    expect(notPre.json().variant).not.toBeNull();
    const getMethods = s.accessCalls.map((calls) => calls.filter((m) => m === "kong.request.get_method").length);
    expect(getMethods).toEqual([1, 0, 1]);
    // HandleEvent + get_headers + get_method: nothing set (no client variant header to clear)
    expect(s.accessCalls[0]).toEqual(["kong.request.get_headers", "kong.request.get_method"]);
  });

  it("the same request id gives the same id: a request's own x-request-id is used as sent", async () => {
    const a = ours(await get(gw.port, "/", { "x-request-id": "req-42" }));
    const b = ours(await get(gw.port, "/", { "x-request-id": "req-42" }));
    expect(a).toBe(coreSays({ headers: { "x-request-id": "req-42" } }).setCookie);
    expect(b).toBe(a);
    expect(ours(await get(gw.port, "/", { "x-request-id": "req-43" }))).not.toBe(a);
  });

  it("costs one get_var for a new user without x-request-id and no extra RPC for anyone else", async () => {
    const fresh = await get(gw.port, "/");
    const cookie = ours(fresh)!.split(";")[0];
    gw.resetStats();
    await get(gw.port, "/");                                   // new user
    await get(gw.port, "/", { cookie });                       // returning user (cookie)
    await get(gw.port, "/", { "x-user-id": "u1" });            // returning user (header)
    await get(gw.port, "/", { "x-request-id": "req-44" });     // new user with x-request-id
    const s = gw.rpcStats();
    expect(s.access).toEqual([6, 4, 4, 5]);
    const getVars = s.accessCalls.map((calls) => calls.filter((m) => m === "kong.nginx.get_var").length);
    expect(getVars).toEqual([1, 0, 0, 0]);
    expect(s.accessCalls[0]).toEqual([
      "kong.request.get_headers", "kong.nginx.get_var", "kong.service.request.set_header", "kong.service.set_upstream", "kong.response.add_header",
    ]);
  });
});
