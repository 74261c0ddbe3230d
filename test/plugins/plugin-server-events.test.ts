// plugins/server/tandem-pluginserver.ts forgetEndedEvents: kong-pdk's Server, driven the
// way Kong drives it (HandleEvent, then one Step per PDK call), keeps no event that has
// ended. Before, an event whose handler made no PDK call (the experiment plugin's log
// phase on a policy without guards or metrics: every request) or that ended with
// kong.response.exit (Kong sends no Step after it) stayed in `events` for good: the soak
// saw the experiment plugin server grow ~1 KB a request.
import { afterEach, describe, expect, it } from "vitest";
import path from "node:path";
import { forgetEndedEvents } from "../../plugins/server/tandem-pluginserver";
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
function serverClass(): new (dir: string, logger: unknown) => PdkServer {
  const file = require.resolve("kong-pdk/server.js");
  delete require.cache[file];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Server = require(file);
  forgetEndedEvents(Server);
  return Server;
}

let open: PdkServer[] = [];
afterEach(() => { for (const s of open) s.close(); open = []; });

async function start(dir: string, name: string, config: Record<string, unknown>): Promise<{ server: PdkServer; iid: number }> {
  const Server = serverClass();
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
