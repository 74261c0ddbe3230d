// The filter's malloc / free (wasm/filter/host-memory.ts), called as Envoy calls them for
// host-returned values: no two live blocks overlap, whether a block comes from the pool of
// small slots or from the heap (a larger one, or any while every slot is held), a freed
// block is reused, and a block keeps what was written into it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FILTER_WASM } from "../support/dist";

function moduleMemory() {
  const mod = new WebAssembly.Module(readFileSync(FILTER_WASM));
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (imp.kind !== "function") throw new Error(`unexpected import ${imp.module}.${imp.name}`);
    (imports[imp.module] ??= {})[imp.name] = () => 0;
  }
  const ex = new WebAssembly.Instance(mod, imports).exports as { malloc(n: number): number; free(p: number): void; memory: WebAssembly.Memory };
  return { malloc: (n: number) => ex.malloc(n) >>> 0, free: ex.free, bytes: () => new Uint8Array(ex.memory.buffer) };
}

describe("filter malloc / free", () => {
  it("hands out blocks that never overlap while live, reuses freed ones, keeps their bytes", () => {
    const m = moduleMemory();
    const live = new Map<number, { size: number; fill: number }>();
    let fill = 1;
    const alloc = (size: number) => {
      const p = m.malloc(size);
      expect(p).not.toBe(0);
      for (const [q, b] of live) expect(p + size <= q || q + b.size <= p, `block ${p}+${size} overlaps ${q}+${b.size}`).toBe(true);
      m.bytes().fill(fill, p, p + size);
      live.set(p, { size, fill });
      fill = (fill % 250) + 1;
      return p;
    };
    const release = (p: number) => {
      const b = live.get(p)!;
      expect(Array.from(m.bytes().subarray(p, p + b.size)).every((x) => x === b.fill)).toBe(true);
      live.delete(p);
      m.free(p);
    };
    // more small blocks held at once than the pool has slots, then some larger ones
    const sizes = [3, 13, 64, 1, 8, 47, 65, 200, 4096];
    const held: number[] = [];
    for (let i = 0; i < 150; i++) held.push(alloc(sizes[i % sizes.length]));
    // free every other one and allocate again: no overlap with what is still held
    for (let i = 0; i < held.length; i += 2) release(held[i]);
    const again: number[] = [];
    for (let i = 0; i < 75; i++) again.push(alloc(sizes[(i * 5) % sizes.length]));
    for (const p of [...live.keys()]) release(p);
    // one small block a callback, freed at its end (as releaseHeld does): the same slot each time
    const first = alloc(3);
    release(first);
    for (let i = 0; i < 100; i++) {
      const p = alloc(13);
      expect(p).toBe(first);
      release(p);
    }
  });
});
