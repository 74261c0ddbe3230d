// The Proxy-Wasm "pairs" serialization (spec v0.2.1 "Serialization"): u32 count, count×(u32 key
// length, u32 value length), then each key and value NUL-terminated, little-endian.
// Parsing follows proxy-wasm-cpp-host src/pairs_util.cc PairsUtil::toPairs exactly: any
// malformed input (short buffer, missing NUL, trailing bytes, more than 1024 pairs or more than
// 1 MiB) yields an EMPTY list rather than an error — so e.g. send_local_response with broken
// header bytes still succeeds, just without the extra headers.

export type Pair = [string, string];

export const PAIRS_MAX_BYTES = 1024 * 1024; // PROXY_WASM_HOST_PAIRS_MAX_BYTES
export const PAIRS_MAX_COUNT = 1024; // PROXY_WASM_HOST_PAIRS_MAX_COUNT

export function pairsSize(pairs: readonly Pair[]): number {
  let size = 4;
  for (let i = 0; i < pairs.length; i++) {
    size += 8 + Buffer.byteLength(pairs[i][0], 'latin1') + 1 + Buffer.byteLength(pairs[i][1], 'latin1') + 1;
  }
  return size;
}

/** Writes the serialization of `pairs` into `out` at `offset` (out must have pairsSize bytes). */
export function writePairs(pairs: readonly Pair[], out: Buffer, offset: number): void {
  out.writeUInt32LE(pairs.length, offset);
  let p = offset + 4;
  for (let i = 0; i < pairs.length; i++) {
    out.writeUInt32LE(pairs[i][0].length, p);
    out.writeUInt32LE(pairs[i][1].length, p + 4);
    p += 8;
  }
  for (let i = 0; i < pairs.length; i++) {
    p += out.write(pairs[i][0], p, 'latin1');
    out[p++] = 0;
    p += out.write(pairs[i][1], p, 'latin1');
    out[p++] = 0;
  }
}

/**
 * pairsSize and writePairs for proxy_get_header_map_pairs, over a header map's parallel
 * name and value lists (read in place, as Envoy iterates its map into a vector of string
 * views), each string's bytes copied in one pass like cpp-host's PairsUtil::marshalPairs
 * (a memcpy per string): no Pair per entry and one Buffer#write for all the strings. The
 * same bytes as writePairs: a char is its low 8 bits, as Buffer#write 'latin1' stores it.
 */
export function listsSize(names: readonly string[], values: readonly string[]): number {
  let size = 4;
  for (let i = 0; i < names.length; i++) size += 8 + names[i].length + 1 + values[i].length + 1;
  return size;
}

export function writeLists(names: readonly string[], values: readonly string[], out: Buffer, offset: number): void {
  out.writeUInt32LE(names.length, offset);
  let p = offset + 4;
  for (let i = 0; i < names.length; i++) {
    out.writeUInt32LE(names[i].length, p);
    out.writeUInt32LE(values[i].length, p + 4);
    p += 8;
  }
  // All strings, NUL-terminated, in one write: V8 concatenates them as a rope and
  // Buffer#write flattens and copies it once (~0.5 µs for a 12-header map, half the
  // cost of a JS loop over the bytes; a write per string costs ~80 ns of fixed cost each).
  let all = "";
  for (let i = 0; i < names.length; i++) all += names[i] + "\0" + values[i] + "\0";
  out.write(all, p, "latin1");
}

export function encodePairs(pairs: readonly Pair[]): Buffer {
  const out = Buffer.alloc(pairsSize(pairs));
  writePairs(pairs, out, 0);
  return out;
}

export function decodePairs(buf: Uint8Array): Pair[] {
  if (buf.length > PAIRS_MAX_BYTES) return [];
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const end = b.length;
  let pos = 0;
  if (pos + 4 > end) return [];
  const n = b.readUInt32LE(pos);
  pos += 4;
  if (n > PAIRS_MAX_COUNT) return [];
  if (pos + n * 8 > end) return [];
  const sizes: number[] = new Array(n * 2);
  for (let i = 0; i < n; i++) {
    sizes[2 * i] = b.readUInt32LE(pos);
    sizes[2 * i + 1] = b.readUInt32LE(pos + 4);
    pos += 8;
  }
  const out: Pair[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const ks = sizes[2 * i];
    if (pos + ks + 1 > end) return [];
    const k = b.toString('latin1', pos, pos + ks);
    pos += ks;
    if (b[pos++] !== 0) return [];
    const vs = sizes[2 * i + 1];
    if (pos + vs + 1 > end) return [];
    const v = b.toString('latin1', pos, pos + vs);
    pos += vs;
    if (b[pos++] !== 0) return [];
    out[i] = [k, v];
  }
  if (pos !== end) return [];
  return out;
}
