// plugins/server/tandem-pluginserver.ts: the first instance id of a plugin-server
// process. It must exceed every id an earlier process gave out, even when the wall clock
// stepped back (NTP) between the two: the last id used wins then.
import { describe, expect, it } from "vitest";
import { firstInstanceId } from "../../plugins/server/tandem-pluginserver";

describe("tandem-pluginserver: first instance id", () => {
  it("is the clock in µs on a first start, and after the last id used when the clock is behind it", () => {
    expect(firstInstanceId(1_765_000_000_000_000, null)).toBe(1_765_000_000_000_000);
    expect(firstInstanceId(1_765_000_000_000_000, 1_765_000_000_500_000)).toBe(1_765_000_000_500_001);
    expect(firstInstanceId(1_765_000_001_000_000, 1_765_000_000_500_000)).toBe(1_765_000_001_000_000);
  });

  it("stays an exact integer for Lua's doubles and msgpack (below 2^53) until the year 2255", () => {
    const year2250Us = Date.UTC(2250, 0, 1) * 1000;
    expect(Number.isSafeInteger(firstInstanceId(year2250Us, null) + 1_000_000)).toBe(true);
  });
});
