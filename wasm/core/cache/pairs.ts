// Reading header lists in proxy-wasm's pairs serialization (u32 count, count x (u32
// name length, u32 value length), then each name and value NUL-terminated, little
// endian): what Envoy's proxy_get_header_map_pairs returns, and what the Node side
// writes for the core (core-js/pairs.ts). One walker, so both read headers alike.

export class PairsReader {
  count: i32 = 0;
  private base: usize = 0;
  private len: i32 = 0;
  private sizes: usize = 0;     // the next size entry
  private data: usize = 0;      // the next name
  private left: i32 = 0;
  namePtr: usize = 0;
  nameLen: i32 = 0;
  valuePtr: usize = 0;
  valueLen: i32 = 0;

  // False when the bytes are not a well-formed list (then there are no headers).
  reset(ptr: usize, len: i32): bool {
    this.base = ptr;
    this.len = len;
    this.count = 0;
    this.left = 0;
    if (len < 4) return len == 0;
    const n = <i32>load<u32>(ptr);
    if (n < 0 || <i64>n * 8 + 4 > <i64>len) return false;
    // Check every size fits before anyone reads a byte.
    let total: i64 = 4 + <i64>n * 8;
    for (let i = 0; i < n; i++) {
      total += <i64>load<u32>(ptr + 4 + (<usize>i << 3)) + <i64>load<u32>(ptr + 8 + (<usize>i << 3)) + 2;
    }
    if (total != <i64>len) return false;
    this.count = n;
    this.left = n;
    this.sizes = ptr + 4;
    this.data = ptr + 4 + (<usize>n << 3);
    return true;
  }

  next(): bool {
    if (this.left <= 0) return false;
    this.left--;
    this.nameLen = <i32>load<u32>(this.sizes);
    this.valueLen = <i32>load<u32>(this.sizes + 4);
    this.sizes += 8;
    this.namePtr = this.data;
    this.valuePtr = this.data + <usize>this.nameLen + 1;
    this.data = this.valuePtr + <usize>this.valueLen + 1;
    return true;
  }
}

// Writes a pairs list: `begin` with the number of pairs and their total name+value
// bytes, then `add` each. Used to build a stored entry's headers and the answer.
export class PairsWriter {
  buf: StaticArray<u8> = new StaticArray<u8>(0);
  private sizes: i32 = 0;
  private data: i32 = 0;

  static size(count: i32, textBytes: i32): i32 { return 4 + count * 8 + textBytes + count * 2; }

  begin(into: StaticArray<u8>, at: i32, count: i32): void {
    this.buf = into;
    store<u32>(changetype<usize>(into) + <usize>at, <u32>count);
    this.sizes = at + 4;
    this.data = at + 4 + count * 8;
  }

  add(np: usize, nl: i32, vp: usize, vl: i32): void {
    const b = changetype<usize>(this.buf);
    store<u32>(b + <usize>this.sizes, <u32>nl);
    store<u32>(b + <usize>this.sizes + 4, <u32>vl);
    this.sizes += 8;
    memory.copy(b + <usize>this.data, np, <usize>nl);
    store<u8>(b + <usize>(this.data + nl), 0);
    this.data += nl + 1;
    memory.copy(b + <usize>this.data, vp, <usize>vl);
    store<u8>(b + <usize>(this.data + vl), 0);
    this.data += vl + 1;
  }

  get end(): i32 { return this.data; }
}

// Case-insensitive compare of bytes at p (n of them) with a lowercase ASCII name.
export function nameIs(p: usize, n: i32, lower: StaticArray<u8>): bool {
  if (n != lower.length) return false;
  for (let i = 0; i < n; i++) {
    let c = <u32>load<u8>(p + <usize>i);
    if (c - 0x41 < 26) c |= 0x20;
    if (c != <u32>unchecked(lower[i])) return false;
  }
  return true;
}
