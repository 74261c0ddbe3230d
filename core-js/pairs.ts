// Header lists in proxy-wasm's pairs serialization (wasm/core/cache/pairs.ts reads and
// writes the same): u32 count, count x (u32 name length, u32 value length), then each
// name and value NUL-terminated, little endian. Names and values as UTF-8 (what Kong's
// plugin server hands a plugin; the Envoy filter passes Envoy's bytes as they are).
export type HeaderPair = [string, string];

export function encodePairs(pairs: ReadonlyArray<HeaderPair>): Buffer {
  const bufs = pairs.map(([k, v]) => [Buffer.from(k, "utf8"), Buffer.from(v, "utf8")] as const);
  let size = 4 + 8 * bufs.length;
  for (const [k, v] of bufs) size += k.length + v.length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(bufs.length, 0);
  let p = 4 + 8 * bufs.length;
  bufs.forEach(([k, v], i) => {
    out.writeUInt32LE(k.length, 4 + 8 * i);
    out.writeUInt32LE(v.length, 8 + 8 * i);
    k.copy(out, p); p += k.length + 1;
    v.copy(out, p); p += v.length + 1;
  });
  return out;
}

export function decodePairs(b: Uint8Array): HeaderPair[] {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < 4) return [];
  const n = buf.readUInt32LE(0);
  const out: HeaderPair[] = [];
  let p = 4 + 8 * n;
  for (let i = 0; i < n; i++) {
    const kl = buf.readUInt32LE(4 + 8 * i);
    const vl = buf.readUInt32LE(8 + 8 * i);
    const k = buf.toString("utf8", p, p + kl); p += kl + 1;
    const v = buf.toString("utf8", p, p + vl); p += vl + 1;
    out.push([k, v]);
  }
  return out;
}
