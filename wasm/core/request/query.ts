// Query-string lookup over the raw request target (path?query#fragment).
// Parameter names compare as sent (not decoded); the value is percent-decoded
// ('+' is a space, as in HTML forms) into `scratch`. The first occurrence wins.
import { Bytes } from "../text/bytes";

function hexv(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return <i32>l - 0x61 + 10;
  return -1;
}

// `scratch` must hold at least `path.len` bytes.
export function findQuery(path: Bytes, name: StaticArray<u8>, scratch: usize, out: Bytes): bool {
  out.clear();
  if (!path.present) return false;
  const p = path.ptr;
  let end = path.len;
  let i = 0;
  while (i < end && load<u8>(p + i) != 0x3f) i++; // '?'
  if (i >= end) return false;
  i++;
  for (let f = i; f < end; f++) if (load<u8>(p + f) == 0x23) { end = f; break; } // '#'
  const nlen = name.length;
  const np = changetype<usize>(name);
  while (i <= end) {
    let amp = i;
    while (amp < end && load<u8>(p + amp) != 0x26) amp++;
    let eq = i;
    while (eq < amp && load<u8>(p + eq) != 0x3d) eq++;
    if (eq - i == nlen && memory.compare(p + i, np, nlen) == 0) {
      let w = 0;
      for (let k = eq + 1; k < amp; k++) {
        let c = <u32>load<u8>(p + k);
        if (c == 0x2b) c = 0x20;
        else if (c == 0x25 && k + 2 < amp) {
          const h = hexv(load<u8>(p + k + 1));
          const l = hexv(load<u8>(p + k + 2));
          if (h >= 0 && l >= 0) { c = <u32>((h << 4) | l); k += 2; }
        }
        store<u8>(scratch + w, <u8>c);
        w++;
      }
      out.set(scratch, w);
      return true;
    }
    i = amp + 1;
  }
  return false;
}
