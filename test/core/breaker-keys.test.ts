// Per-key breaker states (LRU table), the byte codec for Envoy shared data, and the
// no-allocation guarantee of allow/record.
import { describe, expect, it } from "vitest";
import { BreakerCore, type Admission, type Outcome } from "../support/breaker-core";

const core = BreakerCore.load();
const OK: Outcome = { status: 200 };
const FAIL: Outcome = { status: 500 };

describe("keys: LRU table", () => {
  it("evicts the least recently used key at maxKeys; allow and record both count as use", () => {
    core.configure({ maxKeys: 3 });
    const a = core.allow("a", 0);
    core.allow("b", 0);
    core.allow("c", 0);
    expect(core.lru()).toEqual(["c", "b", "a"]);
    core.record("a", a, OK, 1);                       // a is used again
    expect(core.lru()).toEqual(["a", "c", "b"]);
    core.allow("d", 2);                               // evicts b
    expect(core.lru()).toEqual(["d", "a", "c"]);
    expect(core.keys()).toBe(3);
    expect(core.evictions()).toBe(1);
    expect(core.has("b")).toBe(false);
  });

  it("an outcome for an evicted key does not bring it back nor count for its successor", () => {
    core.configure({ maxKeys: 1, minimumCalls: 1 });
    const a = core.allow("a", 0);
    core.allow("b", 0);                               // a evicted
    expect(core.record("a", a, FAIL, 1)).toBe(-1);
    expect(core.has("a")).toBe(false);
    const again = core.allow("a", 2);                 // a is new: another generation
    expect(again.generation).not.toBe(a.generation);
    expect(core.record("a", a, FAIL, 3)).toBe(1);     // classified, but from the old key
    expect(core.state("a")).toMatchObject({ state: "CLOSED", calls: 0 });
  });

  it("an evicted key starts afresh", () => {
    core.configure({ maxKeys: 1, minimumCalls: 1 });
    const a = core.allow("a", 0);
    core.record("a", a, FAIL, 0);
    expect(core.state("a")!.state).toBe("OPEN");
    core.allow("b", 1);
    core.allow("a", 2);
    expect(core.state("a")).toMatchObject({ state: "CLOSED", calls: 0, reason: "none" });
  });

  it("stays consistent under heavy churn (hash index deletions included)", () => {
    core.configure({ maxKeys: 257 }, "plugin", 0x9e3779b9);
    const model = new Map<string, true>();
    let seed = 1;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    for (let i = 0; i < 20000; i++) {
      const key = `tenant-${rnd(1500)}`;
      core.allow(key, i);
      model.delete(key);
      model.set(key, true);
      if (model.size > 257) model.delete(model.keys().next().value as string);
      if (i % 997 === 0) expect(core.lru()).toEqual([...model.keys()].reverse());
    }
    expect(core.lru()).toEqual([...model.keys()].reverse());
    for (let k = 0; k < 1500; k++) expect(core.has(`tenant-${k}`)).toBe(model.has(`tenant-${k}`));
  });

  it("keys are bytes: empty, non-ASCII, and long keys cut at 1024 bytes", () => {
    core.configure({ maxKeys: 10, minimumCalls: 1 });
    for (const k of ["", "日本", "ü", "u"]) core.allow(k, 0);
    expect(core.keys()).toBe(4);
    const long = "x".repeat(1024);
    const a = core.allow(long + "a", 0);
    core.record(long + "b", a, FAIL, 1);              // the same key: its first 1024 bytes
    expect(core.state(long)!.state).toBe("OPEN");
    expect(core.keys()).toBe(5);
  });
});

describe("codec", () => {
  it("has the documented sizes: 109 bytes for a count window of 100, 208 for 10 time buckets", () => {
    core.configure({});
    expect(core.encodedSize()).toBe(109);
    core.configure({ window: { type: "time", sizeMs: 10000, buckets: 10 } });
    expect(core.encodedSize()).toBe(208);
    core.configure({ window: { size: 10000 } });
    expect(core.encodedSize()).toBe(80 + 4 + 2500);
  });

  // The reference key lives in `core`; its twin in `twin` lives only in bytes between
  // calls (like a key in Envoy shared data): each step decodes the bytes into one of
  // two keys in turn, so nothing but the bytes carries the state across steps.
  function scenario(cfg: object): void {
    core.configure(cfg);
    const twin = BreakerCore.load();
    twin.configure(cfg);
    const pending: Admission[] = [];
    let bytes: Uint8Array | null = null;
    let t = 0;
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    const states = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const key = i % 2 === 0 ? "x" : "y";
      if (bytes !== null) expect(twin.decode(key, bytes)).toBe(true);
      t += rnd(40);
      if (rnd(2) === 0 || pending.length === 0) {
        const a = core.allow("a", t);
        expect(twin.allow(key, t)).toEqual(a);
        if (a.admitted) pending.push(a);
      } else {
        const adm = pending.splice(rnd(pending.length), 1)[0];
        const o: Outcome = { status: [200, 500, 503, 404][rnd(4)], latencyMs: rnd(300) };
        expect(twin.record(key, adm, o, t)).toBe(core.record("a", adm, o, t));
      }
      bytes = twin.encode(key)!;
      expect(bytes).toEqual(core.encode("a"));
      expect(twin.state(key)).toEqual(core.state("a"));
      states.add(core.state("a")!.state);
    }
    expect([...states].sort()).toEqual(["CLOSED", "HALF_OPEN", "OPEN"]);
  }

  it("round-trips every state of a count window, window contents included", () => {
    scenario({ maxKeys: 2, window: { size: 9 }, minimumCalls: 5, openDurationMs: 300, slowCallDurationMs: 200, slowCallRateThreshold: 60, halfOpen: { permittedCalls: 3, maxWaitMs: 500 }, openBackoff: { multiplier: 1.5, maxMs: 2000 } });
  });

  it("round-trips every state of a time window", () => {
    scenario({ maxKeys: 2, window: { type: "time", sizeMs: 1000, buckets: 5 }, minimumCalls: 5, openDurationMs: 300, halfOpen: { permittedCalls: 2, maxWaitMs: 400 } });
  });

  it("refuses bytes of another shape, version or with bad values", () => {
    core.configure({ window: { type: "time", sizeMs: 10000, buckets: 10 } });
    const adm = core.allow("a", 0);
    core.record("a", adm, FAIL, 0);
    const good = core.encode("a")!;
    expect(core.decode("x", good)).toBe(true);
    expect(core.decode("x", good.subarray(0, good.length - 1))).toBe(false);
    const v2 = good.slice(); v2[0] = 2;
    expect(core.decode("x", v2)).toBe(false);
    const badState = good.slice(); badState[1] = 3;
    expect(core.decode("x", badState)).toBe(false);
    const badTotals = good.slice(); new DataView(badTotals.buffer).setUint32(72, 5, true);  // failures > calls
    expect(core.decode("x", badTotals)).toBe(false);
    core.configure({ window: { type: "time", sizeMs: 20000, buckets: 10 } });              // same length, other shape
    expect(core.encodedSize()).toBe(good.length);
    expect(core.decode("x", good)).toBe(false);
    core.configure({ window: { size: 100 } });
    const count = core.allow("c", 0);
    core.record("c", count, FAIL, 0);
    const cb = core.encode("c")!;
    const badHead = cb.slice(); new DataView(badHead.buffer).setUint32(80, 100, true);
    expect(core.decode("x", badHead)).toBe(false);
  });

  it("the Envoy way (state bytes in, machine, bytes out) matches the table exactly", () => {
    core.configure({ window: { size: 5 }, minimumCalls: 2, openDurationMs: 100, halfOpen: { permittedCalls: 2, maxWaitMs: 150 } });
    let shared: Uint8Array | null = null;
    const pending: Array<[Admission, Admission]> = [];
    let seed = 3;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    let writes = 0;
    let calls = 0;
    for (let t = 0; t < 5000; t += rnd(20)) {
      if (rnd(2) === 0 || pending.length === 0) {
        const a = core.allow("k", t);
        const r = core.sharedAllow(shared, t);
        calls++;
        expect(r.adm).toMatchObject({ admitted: a.admitted, permitted: a.permitted, probe: a.probe, generation: a.generation, changed: a.changed });
        if (r.adm.changed || shared === null) { shared = r.bytes; writes++; }
        if (a.admitted) pending.push([a, r.adm]);
      } else {
        const [a, s] = pending.splice(rnd(pending.length), 1)[0];
        const o: Outcome = { status: rnd(3) === 0 ? 503 : 200 };
        core.record("k", a, o, t);
        const r = core.sharedRecord(shared!, s, o, t);
        calls++;
        if (r.changed) { shared = r.bytes; writes++; }
      }
      expect(shared).toEqual(core.encode("k"));
    }
    expect(writes).toBeLessThan(calls);               // unchanged states need no CAS write
  });
});

describe("allocation", () => {
  it("allow and record allocate nothing per call (stub runtime: any allocation would grow memory)", () => {
    const stub = BreakerCore.load(["--runtime", "stub"]);
    for (const cfg of [{ window: { size: 100 } }, { window: { type: "time", sizeMs: 1000, buckets: 100 } }, { minimumCalls: 1, openDurationMs: 5, halfOpen: { permittedCalls: 2, maxWaitMs: 3 } }]) {
      stub.configure({ ...cfg, maxKeys: 4 });
      for (const k of ["a", "b", "c", "d", "e"]) stub.churn(k, 1000, 0, 1);   // every key slot used, one eviction
      const before = stub.memoryBytes();
      for (const k of ["a", "b", "c", "d", "e"]) stub.churn(k, 100000, 2000, 1);
      expect(stub.memoryBytes()).toBe(before);
    }
  });
});

describe("robustness (an abort in the filter kills the Envoy VM)", () => {
  it("decodes or refuses any bytes, and the machine never aborts afterwards", () => {
    let seed = 11;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed >>> 8) % n; };
    for (const cfg of [{ window: { size: 10 } }, { window: { type: "time", sizeMs: 1000, buckets: 5 } }]) {
      core.configure({ ...cfg, minimumCalls: 1, openDurationMs: 10, halfOpen: { permittedCalls: 2, maxWaitMs: 10 } });
      const a = core.allow("k", 0);
      core.record("k", a, FAIL, 0);
      const good = core.encode("k")!;
      let accepted = 0;
      for (let i = 0; i < 3000; i++) {
        const b = good.slice();
        const flips = 1 + rnd(8);
        for (let j = 0; j < flips; j++) b[rnd(b.length)] = rnd(256);
        if (i % 3 === 0) for (let j = 1; j < b.length; j++) b[j] = rnd(256);   // header kept, rest random
        if (!core.decode("k", b)) continue;
        accepted++;
        for (let t = 0; t < 5; t++) {
          const adm = core.allow("k", i * 10 + t);
          core.record("k", adm, [OK, FAIL][rnd(2)], i * 10 + t);
          core.advance("k", i * 10 + t);
        }
        expect(core.state("k")).not.toBeNull();
      }
      expect(accepted).toBeGreaterThan(100);
    }
  });

  it("non-finite or absurd times count as the clock not moving", () => {
    core.configure({ minimumCalls: 1, openDurationMs: 1000, window: { type: "time" } });
    const a = core.allow("k", 5000);
    core.record("k", a, FAIL, 5000);
    for (const t of [NaN, Infinity, -Infinity, 1e300]) {
      expect(core.allow("k", t)).toMatchObject({ admitted: false, retryAfterMs: 1000 });
    }
    expect(core.state("k")).toMatchObject({ state: "OPEN", clockMs: 5000 });
  });
});
