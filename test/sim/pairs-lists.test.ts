// The harness's proxy_get_header_map_pairs serializes a header map in place (listsSize,
// writeLists in sim/envoy/pairs.ts): byte for byte what encodePairs (the
// reference serialization, checked against the cpp-host format in envoy.test.ts) gives,
// latin1 bytes, chars above 0xFF and empty names and values included.
import { describe, expect, it } from "vitest";
import { decodePairs, encodePairs, type Pair } from "../../sim/envoy";
import { listsSize, writeLists } from "../../sim/envoy/pairs";

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

describe("pairs: a header map serialized in place", () => {
  it("equals encodePairs on generated maps", () => {
    const r = rng(7);
    const str = (max: number) => {
      let s = "";
      const n = Math.floor(r() * max);
      for (let i = 0; i < n; i++) {
        const k = r();
        s += String.fromCharCode(k < 0.8 ? 0x20 + Math.floor(r() * 95) : k < 0.95 ? 0x80 + Math.floor(r() * 128) : 0x100 + Math.floor(r() * 0x300));
      }
      return s;
    };
    for (let t = 0; t < 300; t++) {
      const pairs: Pair[] = [];
      const n = Math.floor(r() * 16);
      for (let i = 0; i < n; i++) pairs.push([str(20), str(t % 10 === 0 ? 3000 : 120)]);
      const want = encodePairs(pairs);
      const names = pairs.map((p) => p[0]), values = pairs.map((p) => p[1]);
      expect(listsSize(names, values)).toBe(want.length);
      const out = Buffer.alloc(want.length + 16, 0xee);
      writeLists(names, values, out, 8);
      expect(out.subarray(8, 8 + want.length).equals(want)).toBe(true);
      expect(out[7]).toBe(0xee);
      expect(out[8 + want.length]).toBe(0xee);
      expect(decodePairs(out.subarray(8, 8 + want.length)).length).toBe(n);
    }
  });
});
