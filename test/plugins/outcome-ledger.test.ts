// The plugin server's count of outcomes that never came (plugins/shared/outcome-ledger.ts).
import { describe, expect, it } from "vitest";
import { OutcomeLedger, outcomeDeadlineMs, DEFAULT_OUTCOME_DEADLINE_MS } from "../../plugins/shared/outcome-ledger";

function ledger(deadline = 1000, max = 1000) {
  const counted: string[] = [];
  return { l: new OutcomeLedger(deadline, (p) => counted.push(p), 7, max), counted };
}

describe("OutcomeLedger", () => {
  it("counts a ticket not returned by its deadline, once; returned ones never", () => {
    const { l, counted } = ledger();
    const a = l.take("p", 0);
    const b = l.take("q", 100);
    const c = l.take("p", 200);
    l.settle(b, 300);
    l.sweep(999);
    expect(counted).toEqual([]);
    l.sweep(1000); // a is due
    expect(counted).toEqual(["p"]);
    l.settle(a, 1001); // late: changes nothing
    l.sweep(5000);
    expect(counted).toEqual(["p", "p"]); // c
    expect(l.dropped).toBe(2);
    expect(l.outstanding).toBe(0);
    expect(c).toBe(a + 2);
  });

  it("a clock read backwards does not move deadlines earlier or later than taken", () => {
    const { l, counted } = ledger();
    l.take("p", 5000);
    l.take("p", 10); // the clock stepped back: due at 6000 too, not 1010
    l.sweep(5999);
    expect(counted).toEqual([]);
    l.sweep(6000);
    expect(counted).toEqual(["p", "p"]);
  });

  it("holds at most max tickets: the oldest counts as dropped when another is taken", () => {
    const { l, counted } = ledger(1_000_000, 3);
    const t = [l.take("a", 0), l.take("b", 0), l.take("c", 0)];
    l.take("d", 0);
    expect(counted).toEqual(["a"]);
    expect(l.outstanding).toBe(3);
    l.settle(t[1], 0);
    expect(l.outstanding).toBe(2);
  });

  it("ignores tickets it never issued (another process's, or not a number)", () => {
    const { l, counted } = ledger();
    l.take("p", 0);
    l.settle(123456789, 0);
    l.settle("x", 0);
    l.settle(undefined, 0);
    expect(l.outstanding).toBe(1);
    expect(counted).toEqual([]);
  });

  it("TANDEM_OUTCOME_DEADLINE_MS: ms, default when unset, one line for a bad value", () => {
    expect(outcomeDeadlineMs(undefined)).toBe(DEFAULT_OUTCOME_DEADLINE_MS);
    expect(outcomeDeadlineMs("")).toBe(DEFAULT_OUTCOME_DEADLINE_MS);
    expect(outcomeDeadlineMs("90000")).toBe(90000);
    expect(outcomeDeadlineMs("0")).toBe("tandem: TANDEM_OUTCOME_DEADLINE_MS must be a number of milliseconds (1-86400000), got \"0\": using 300000");
    expect(outcomeDeadlineMs("5m")).toMatch(/^tandem: TANDEM_OUTCOME_DEADLINE_MS must be .* got "5m": using 300000$/);
  });
});
