// Kong with several nginx workers decides exactly as the core does. Every request of
// `--via kong` goes on a fresh connection, so with two workers they take turns
// (sim/kong: connections are dealt round robin): each worker starts its own instance of
// each plugin in the one plugin server, over its own connections, and the requests of a
// breaker or a guard trace alternate between those instances. Breaker and guard state
// live in the plugin server, not the instance, so the answers must not change.
import { describe, expect, it } from "vitest";
import { simulate } from "../../cli/simulate/run";
import { KONG_PROFILE } from "../../cli/simulate/result";
import { breakerScenarios } from "./breaker-scenarios";
import { guardScenarios } from "./guard-scenarios";
import { scenarios } from "./scenarios";

const WORKERS = 2;
const cases = [
  { kind: "breaker", ...breakerScenarios()[0] },
  { kind: "guard", ...guardScenarios()[0] },
  { kind: "experiment", ...scenarios(300)[0] },
];

describe.each(cases)(`Kong with ${WORKERS} workers: $kind $name`, ({ policy, trace }) => {
  it(`${trace.length} requests answer identically through core and Kong with ${WORKERS} workers`, async () => {
    const core = await simulate("core", policy, trace, () => {}, { profile: KONG_PROFILE });
    const kong = await simulate("kong", policy, trace, () => {}, { kongWorkers: WORKERS });
    expect(kong).toHaveLength(trace.length);
    for (let i = 0; i < trace.length; i++) {
      expect(kong[i], `line ${i + 1} t=${trace[i].t} ${JSON.stringify(trace[i].headers).slice(0, 200)}`).toEqual(core[i]);
    }
  }, 600_000);
});
