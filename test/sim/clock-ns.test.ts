// The harness's proxy_get_current_time_nanoseconds writes the clock's ms as ns with Number
// arithmetic on two 32-bit words (setNsOfMs in sim/envoy/stream-info.ts): byte for byte
// what the BigInt reference (setU64 of msToNs) writes, and refused at the same pointers.
import { describe, expect, it } from "vitest";
import { VmMemory } from "../../sim/envoy/memory";
import { msToNs, setNsOfMs } from "../../sim/envoy/stream-info";

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

function memory(): { mem: VmMemory; raw: WebAssembly.Memory } {
  const raw = new WebAssembly.Memory({ initial: 1 });
  const mem = new VmMemory();
  mem.attach(raw);
  return { mem, raw };
}

describe("setNsOfMs", () => {
  const ref = memory();
  const fast = memory();
  const bytes = (m: WebAssembly.Memory) => Buffer.from(m.buffer, 8, 8).toString("hex");

  it("writes the bytes setU64(msToNs(ms)) writes", () => {
    const values = [0, 0.5, 1, 1.0000005, 1.9999999, 999.9999995, 1_700_000_000_123, 1_700_000_000_123.5,
      1_765_152_000_123.9999996, 2 ** 32 - 1e-7, 2 ** 32, 2 ** 40 + 0.3, 2 ** 52 - 0.5, 2 ** 52, 2 ** 53, 1.8446744073709552e13 + 7.7, -0.5, -1];
    const r = rng(7);
    for (let i = 0; i < 20_000; i++) values.push(r() * 2 ** (r() * 53), Math.floor(r() * 2e12) + r());
    for (const ms of values) {
      expect(ref.mem.setU64(8, msToNs(ms))).toBe(true);
      expect(setNsOfMs(fast.mem, 8, ms)).toBe(true);
      if (bytes(ref.raw) !== bytes(fast.raw)) expect({ ms, got: bytes(fast.raw) }).toEqual({ ms, got: bytes(ref.raw) });
    }
  });

  it("refuses a pointer whose 8 bytes do not fit, writing nothing", () => {
    const size = fast.raw.buffer.byteLength;
    for (const p of [size - 8, size - 7, size - 1, size, -1]) {
      Buffer.from(fast.raw.buffer).fill(0xaa, size - 8);
      expect(setNsOfMs(fast.mem, p, 1_700_000_000_123.5)).toBe(ref.mem.setU64(p, msToNs(1_700_000_000_123.5)));
      if (p !== size - 8) expect(Buffer.from(fast.raw.buffer, size - 8).every((b) => b === 0xaa)).toBe(true);
    }
  });
});
