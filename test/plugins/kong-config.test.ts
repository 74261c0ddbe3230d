// Kong's own keys in a plugin's config (plugins/shared/kong-config.ts): Kong 3.9 adds
// route_id / service_id / consumer_id, plugin_instance_name (when the plugin entity has
// an instance_name, as every KongPlugin the Kong Ingress Controller creates does),
// __plugin_id, __ws_id, __key__ and __seq__ (kong/runloop/plugins_iterator.lua
// get_plugin_config). The core refuses unknown fields, so each plugin must strip them:
// before, an instance-named plugin failed StartInstance and Kong answered 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKong, type KongGateway } from "../../sim/kong";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { startBackends, get, type Backends } from "../support/backends";
import { ALL_CANARY, BAD_WEIGHT, BAD_WEIGHT_MESSAGE, CHECKOUT } from "../support/policies";
import { userConfig } from "../../plugins/shared/kong-config";

// A KIC-style instance name: the KongPlugin's name and a hash suffix.
const EXPERIMENT_NAME = "checkout-experiment-4f9c2a7e";
const BREAKER_NAME = "checkout-circuit-breaker-b81d03c5";
const BREAKER = { key: "header:x-tenant", window: { type: "count", size: 10 }, minimumCalls: 4, failureRateThreshold: 50 };

let be: Backends;
let gw: KongGateway;

beforeAll(async () => {
  be = await startBackends(["api-v1", "api-v2", "svc"]);
  gw = await startKong({
    plugins: [
      { name: "experiment", dir: requireBuilt(KONG_DIR("experiment")), config: CHECKOUT, instanceName: EXPERIMENT_NAME },
      { name: "circuit-breaker", dir: requireBuilt(KONG_DIR("circuit-breaker")), config: BREAKER, instanceName: BREAKER_NAME },
    ],
    upstreams: be.addrs, defaultUpstream: "svc",
  });
});
afterAll(async () => { await gw?.close(); await be?.close(); });

async function logsContain(text: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (gw.logs("debug").some((l) => l.message.includes(text))) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe("Kong's own config keys", () => {
  it("userConfig strips every key Kong adds and keeps the user's", () => {
    const kong = {
      variants: [], route_id: "r", service_id: "s", consumer_id: "c", plugin_instance_name: "n-1a2b",
      __plugin_id: "p", __ws_id: "w", __key__: "k", __seq__: 3,
    };
    expect(userConfig(kong)).toEqual({ variants: [] });
  });

  it("instance-named plugins start and decide (Kong sent plugin_instance_name)", async () => {
    expect(gw.kongConfig("experiment").plugin_instance_name).toBe(EXPERIMENT_NAME);
    expect(gw.kongConfig("circuit-breaker").plugin_instance_name).toBe(BREAKER_NAME);
    for (let i = 0; i < 20; i++) {
      const r = await get(gw.port, "/", { "x-user-id": `u${i}` });
      expect(r.status).toBe(200);
      expect(r.json().backend).toBe(r.json().variant === "canary" ? "api-v2" : "api-v1");
    }
    await gw.logDone();
    expect(gw.logs("err").filter((l) => l.message.includes("starting instance"))).toEqual([]);
  });

  it("a config update with Kong's keys takes effect; a rejected one keeps the previous", async () => {
    const seq = gw.kongConfig("experiment").__seq__ as number;
    await gw.configure("experiment", ALL_CANARY);
    expect(gw.kongConfig("experiment").__seq__).toBeGreaterThan(seq);
    expect(gw.kongConfig("experiment").plugin_instance_name).toBe(EXPERIMENT_NAME);
    expect((await get(gw.port, "/", { "x-user-id": "u7" })).json().variant).toBe("canary");
    await gw.configure("experiment", BAD_WEIGHT);
    const r = await get(gw.port, "/", { "x-user-id": "u7" });
    expect(r.status).toBe(200);
    expect(r.json().variant).toBe("canary");
    expect(await logsContain(`tandem: configuration rejected, previous configuration stays in force: ${BAD_WEIGHT_MESSAGE}`)).toBe(true);
  });
});
