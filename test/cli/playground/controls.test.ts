// The page's controls as the data endpoint checks them (cli/playground/controls.ts):
// every out-of-range or malformed value is refused with its field, the rule and the
// value; weights are reshared so they still add up to 100.
import { describe, expect, it } from "vitest";
import { BadControl, CONTROL_LIMITS, parseControl, reweigh } from "../../../cli/playground/controls";

const refused = (body: unknown) => {
  try {
    parseControl(body);
  } catch (e) {
    expect(e).toBeInstanceOf(BadControl);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
};

describe("playground controls", () => {
  it("accepts each control within its bounds", () => {
    expect(parseControl({ load: { rps: 1000, users: 10000, returningPercent: 80 } })).toEqual({ load: { rps: 1000, users: 10000, returningPercent: 80 } });
    expect(parseControl({ backend: { variant: "canary", errorPercent: 50, latencyMs: 0 } })).toEqual({ backend: { variant: "canary", errorPercent: 50, latencyMs: 0 } });
    expect(parseControl({ weight: { variant: "canary", weight: 25.5 } })).toEqual({ weight: { variant: "canary", weight: 25.5 } });
    expect(parseControl({ faults: { enabled: true } })).toEqual({ faults: { enabled: true } });
    expect(parseControl({ policy: { example: "game-day.yaml" } })).toEqual({ policy: { example: "game-day.yaml" } });
  });

  it("refuses out-of-range values with the field, the rule and the value", () => {
    expect(refused({ load: { rps: -5, users: 10, returningPercent: 50 } })).toBe("load.rps: must be between 0 and 5000, got -5");
    expect(refused({ load: { rps: 5001, users: 10, returningPercent: 50 } })).toBe("load.rps: must be between 0 and 5000, got 5001");
    expect(refused({ load: { rps: 10.5, users: 10, returningPercent: 50 } })).toBe("load.rps: must be an integer, got 10.5");
    expect(refused({ load: { rps: 10, users: 0, returningPercent: 50 } })).toBe("load.users: must be between 1 and 100000, got 0");
    expect(refused({ load: { rps: 10, users: 10, returningPercent: 101 } })).toBe("load.returningPercent: must be between 0 and 100, got 101");
    expect(refused({ weight: { variant: "canary", weight: 120 } })).toBe("weight.weight: must be between 0 and 100, got 120");
    expect(refused({ weight: { variant: "canary", weight: -1 } })).toBe("weight.weight: must be between 0 and 100, got -1");
    expect(refused({ backend: { variant: "canary", errorPercent: 150, latencyMs: 0 } })).toBe("backend.errorPercent: must be between 0 and 100, got 150");
    expect(refused({ backend: { variant: "canary", errorPercent: 0, latencyMs: 60000 } })).toBe("backend.latencyMs: must be between 0 and 5000, got 60000");
  });

  it("refuses malformed requests in one line each", () => {
    expect(refused(null)).toBe("request: must be a JSON object with one of load, backend, weight, faults, policy, got null");
    expect(refused([1])).toBe("request: must be a JSON object with one of load, backend, weight, faults, policy, got [1]");
    expect(refused({})).toBe("request: must have exactly one of load, backend, weight, faults, policy, got none");
    expect(refused({ load: {}, weight: {} })).toBe("request: must have exactly one of load, backend, weight, faults, policy, got load, weight");
    expect(refused({ nope: 1 })).toBe("request: must be a JSON object with one of load, backend, weight, faults, policy, got nope");
    expect(refused({ weight: { variant: "canary", weight: "50" } })).toBe('weight.weight: must be a number, got "50"');
    expect(refused({ weight: { variant: "canary" } })).toBe("weight.weight: must be a number, got nothing");
    expect(refused({ weight: { variant: "", weight: 5 } })).toBe('weight.variant: must be a string, got ""');
    expect(refused({ weight: { variant: "canary", weight: 5, extra: 1 } })).toBe('weight: has unknown field, got "extra" (fields: variant, weight)');
    expect(refused({ faults: { enabled: "yes" } })).toBe('faults.enabled: must be true or false, got "yes"');
    expect(refused({ load: 5 })).toBe("load: must be an object, got 5");
  });

  it("the bounds the page checks are the endpoint's", () => {
    expect(CONTROL_LIMITS.weight).toEqual([0, 100]);
    expect(CONTROL_LIMITS.rps[0]).toBe(0);
  });

  it("reweigh gives the variant its weight and shares the rest in proportion, to 2 decimals", () => {
    const two = [{ name: "stable", weight: 90 }, { name: "canary", weight: 10 }];
    expect(reweigh(two, "canary", 25)).toEqual([{ name: "stable", weight: 75 }, { name: "canary", weight: 25 }]);
    expect(reweigh(two, "stable", 0)).toEqual([{ name: "stable", weight: 0 }, { name: "canary", weight: 100 }]);
    const three = [{ name: "a", weight: 50 }, { name: "b", weight: 30 }, { name: "c", weight: 20 }];
    const r = reweigh(three, "c", 40);
    expect(r).toEqual([{ name: "a", weight: 37.5 }, { name: "b", weight: 22.5 }, { name: "c", weight: 40 }]);
    const thirds = reweigh([{ name: "a", weight: 1 }, { name: "b", weight: 1 }, { name: "c", weight: 0 }], "c", 0.01);
    expect(thirds.reduce((s, v) => s + v.weight!, 0)).toBeCloseTo(100, 9);
    // all others at 0: the first other takes the rest
    expect(reweigh([{ name: "blue", weight: 100 }, { name: "green", weight: 0 }], "blue", 30)).toEqual([{ name: "blue", weight: 30 }, { name: "green", weight: 70 }]);
    expect(() => reweigh(two, "nope", 5)).toThrow('weight.variant: must name one of the experiment\'s variants (stable, canary), got "nope"');
  });
});
