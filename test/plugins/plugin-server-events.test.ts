// plugins/server/tandem-pluginserver.ts forgetEndedEvents: kong-pdk's Server, driven the
// way Kong drives it (HandleEvent, then one Step per PDK call), keeps no event that has
// ended. Before, an event whose handler made no PDK call (the experiment plugin's log
// phase on a policy without guards or metrics: every request) or that ended with
// kong.response.exit (Kong sends no Step after it) stayed in `events` for good: the soak
// saw the experiment plugin server grow ~1 KB a request.
// And an event Kong abandons mid-way (a failed Step call: refused connect, 60 s read timeout;
// a Lua error in the PDK method Kong ran for it) never gets another Step (mp_rpc.lua
// bridge_loop): it is forgotten once Kong's turn has lasted past the limit. The limit is
// driven by an injected clock here; an event whose plugin is still working is never cut.
import { afterEach, describe, expect, it } from "vitest";
import path from "node:path";
import { forgetEndedEvents, type TurnLimit } from "../../plugins/server/tandem-pluginserver";
import { KONG_DIR, requireBuilt } from "../support/dist";
import { CHECKOUT } from "../support/policies";

const FIXTURES = path.resolve(__dirname, "../fixtures/kong");
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Reply { Data: "ret" | { Method: string; Args: unknown }; EventId: number }
interface PdkServer {
  events: Map<number, unknown>;
  StartInstance(cfg: { Name: string; Config: string }): Promise<{ Id: number }>;
  HandleEvent(e: { InstanceId: number; EventName: string }): Promise<Reply>;
  Step(d: { EventId: number; Data?: unknown }): Promise<Reply>;
  StepMultiMap(d: { EventId: number; Data?: unknown }): Promise<Reply>;
  close(): void;
}

// A Server class of its own (a fresh copy of kong-pdk's module), patched as the start command patches it.
function serverClass(opts?: TurnLimit): new (dir: string, logger: unknown) => PdkServer {
  const file = require.resolve("kong-pdk/server.js");
  delete require.cache[file];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Server = require(file);
  forgetEndedEvents(Server, opts);
  return Server;
}

let open: PdkServer[] = [];
afterEach(() => { for (const s of open) s.close(); open = []; });

async function start(dir: string, name: string, config: Record<string, unknown>, opts?: TurnLimit): Promise<{ server: PdkServer; iid: number }> {
  const Server = serverClass(opts);
  const server = new Server(dir, quiet);
  open.push(server);
  const { Id } = await server.StartInstance({ Name: name, Config: JSON.stringify({ ...config, __plugin_id: `${name}-1`, __seq__: 1 }) });
  return { server, iid: Id };
}

describe("tandem-pluginserver: ended events are forgotten", () => {
  it("an event answered 'ret' by HandleEvent itself (experiment's log phase, no guards, metrics off)", async () => {
    const { server, iid } = await start(requireBuilt(KONG_DIR("experiment")), "experiment", CHECKOUT);
    for (let i = 0; i < 50; i++) {
      const r = await server.HandleEvent({ InstanceId: iid, EventName: "log" });
      expect(r.Data).toBe("ret");
    }
    expect(server.events.size).toBe(0);
  });

  it("an event that ended with kong.response.exit (Kong answers it no Step)", async () => {
    const { server, iid } = await start(path.join(FIXTURES, "echo"), "echo", {});
    for (let i = 0; i < 20; i++) {
      const r = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
      expect(r.Data).toMatchObject({ Method: "kong.request.get_headers" });
      const exit = await server.StepMultiMap({ EventId: r.EventId, Data: { "x-echo-exit": ["503"] } });
      expect(exit.Data).toMatchObject({ Method: "kong.response.exit" });
    }
    expect(server.events.size).toBe(0);
  });

  it("an event still running keeps its channel; one that returns normally is forgotten as before", async () => {
    const { server, iid } = await start(path.join(FIXTURES, "echo"), "echo", { message: "m" });
    const r = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
    expect(server.events.size).toBe(1); // waiting for get_headers' answer
    const set = await server.StepMultiMap({ EventId: r.EventId, Data: {} });
    expect(set.Data).toMatchObject({ Method: "kong.service.request.set_header", Args: ["x-echo", "m"] });
    expect(server.events.size).toBe(1);
    const done = await server.Step({ EventId: r.EventId });
    expect(done.Data).toBe("ret");
    expect(server.events.size).toBe(0);
  });
});

// Kong's turn: from the server's answer (a PDK call) to Kong's next Step for that event.
// Kong never takes another Step after a failed call (mp_rpc.lua bridge_loop returns the
// error; handle_event logs it, or on "no plugin instance" starts a NEW event), so a turn
// that lasts past the limit is an abandoned event. Limit 1,000 ms on a clock the test moves.
describe("tandem-pluginserver: events Kong abandons are forgotten after Kong's turn limit", () => {
  let now = 0;
  const limit: TurnLimit = { kongTurnLimitMs: 1000, clockMs: () => now };
  afterEach(() => { now = 0; });

  // One whole event of the echo plugin: get_headers, set_header, ret.
  async function completeEcho(server: PdkServer, iid: number): Promise<void> {
    const r = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
    const set = await server.StepMultiMap({ EventId: r.EventId, Data: {} });
    expect(set.Data).toMatchObject({ Method: "kong.service.request.set_header" });
    expect((await server.Step({ EventId: r.EventId })).Data).toBe("ret");
  }

  it("events whose next Step never came (Kong's call failed) are forgotten past the limit; a live one is kept and finishes", async () => {
    const { server, iid } = await start(path.join(FIXTURES, "echo"), "echo", { message: "m" }, limit);
    for (let i = 0; i < 30; i++) {
      const r = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
      expect(r.Data).toMatchObject({ Method: "kong.request.get_headers" }); // Kong's Step for it fails: never sent
    }
    expect(server.events.size).toBe(30);
    now = 999; // not yet past the limit: all kept
    const live = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
    expect(server.events.size).toBe(31);
    now = 1001; // the 30 abandoned ones are past it; the live one is 2 ms into Kong's turn
    await completeEcho(server, iid);
    expect(server.events.size).toBe(1);
    const set = await server.StepMultiMap({ EventId: live.EventId, Data: { "x-echo-in": ["late"] } });
    expect(set.Data).toMatchObject({ Method: "kong.service.request.set_header", Args: ["x-echo", "late"] });
    expect((await server.Step({ EventId: live.EventId })).Data).toBe("ret");
    expect(server.events.size).toBe(0);
  });

  it("events Kong ended with a Lua error in the PDK method it ran for them (kong.response.get_status in access)", async () => {
    const { server, iid } = await start(path.join(FIXTURES, "router"), "router", {}, limit);
    for (let i = 0; i < 10; i++) {
      const r = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
      expect(r.Data).toMatchObject({ Method: "kong.request.get_header", Args: ["x-route-to"] });
      const bad = await server.Step({ EventId: r.EventId }); // nil: no x-route-to
      expect(bad.Data).toMatchObject({ Method: "kong.request.get_header", Args: ["x-bad-call"] });
      const status = await server.Step({ EventId: r.EventId, Data: "1" });
      // Kong raises "function cannot be called in access phase" here (kong/pdk/response.lua
      // check_phase): the access coroutine dies, Kong answers 500, no Step follows.
      expect(status.Data).toMatchObject({ Method: "kong.response.get_status" });
    }
    expect(server.events.size).toBe(10);
    now = 5000;
    const r = await server.HandleEvent({ InstanceId: iid, EventName: "access" });
    expect(server.events.size).toBe(1); // the 10 forgotten, the new one kept
    let step = await server.Step({ EventId: r.EventId });
    while (step.Data !== "ret") step = await server.Step({ EventId: r.EventId });
    expect(server.events.size).toBe(0);
  });

  it("an event whose plugin is still working is not cut, however long it works (router's slow log: 5 s before its first call)", async () => {
    const { server, iid } = await start(path.join(FIXTURES, "router"), "router", { note: "slow-log" }, limit);
    const first = server.HandleEvent({ InstanceId: iid, EventName: "log" }); // the plugin's turn, 5 s of real time
    await new Promise((r) => setTimeout(r, 50));
    now = 60_000; // far past the limit while the plugin works
    const other = await server.HandleEvent({ InstanceId: iid, EventName: "access" }); // sweeps
    expect(other.Data).toMatchObject({ Method: "kong.request.get_header" });
    expect(server.events.size).toBe(2);
    const r = await first;
    expect(r.Data).toMatchObject({ Method: "kong.response.get_status" });
    const answers: Record<string, unknown> = { "kong.response.get_status": 200, "kong.log.serialize": "{}" };
    let step = await server.Step({ EventId: r.EventId, Data: answers["kong.response.get_status"] });
    while (step.Data !== "ret") {
      const method = (step.Data as { Method: string }).Method;
      step = await server.Step({ EventId: r.EventId, Data: answers[method] });
    }
    expect(server.events.size).toBe(1); // the access event: its turn began at 60,000, 0 ms ago
  }, 20_000);
});
