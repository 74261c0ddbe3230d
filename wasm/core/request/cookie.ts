// Cookie lookup over raw Cookie header bytes (RFC 6265 §5.4 syntax, lenient like
// browsers and servers): pairs split on ';', optional whitespace trimmed, the first
// pair whose name matches exactly wins, surrounding DQUOTEs stripped from the value.
// No allocation: the result points into the header bytes.
import { Bytes, isOws } from "../text/bytes";

export function findCookie(header: Bytes, name: StaticArray<u8>, out: Bytes): bool {
  out.clear();
  if (!header.present) return false;
  const p = header.ptr;
  const end = <i32>header.len;
  const nlen = name.length;
  const np = changetype<usize>(name);
  let i = 0;
  while (i < end) {
    // start of a pair: skip whitespace
    while (i < end && isOws(load<u8>(p + i))) i++;
    let semi = i;
    while (semi < end && load<u8>(p + semi) != 0x3b) semi++;
    let eq = i;
    while (eq < semi && load<u8>(p + eq) != 0x3d) eq++;
    if (eq < semi) {
      let nEnd = eq;
      while (nEnd > i && isOws(load<u8>(p + nEnd - 1))) nEnd--;
      if (nEnd - i == nlen && memory.compare(p + i, np, nlen) == 0) {
        let vs = eq + 1;
        let ve = semi;
        while (vs < ve && isOws(load<u8>(p + vs))) vs++;
        while (ve > vs && isOws(load<u8>(p + ve - 1))) ve--;
        if (ve - vs >= 2 && load<u8>(p + vs) == 0x22 && load<u8>(p + ve - 1) == 0x22) { vs++; ve--; }
        out.set(p + vs, ve - vs);
        return true;
      }
    }
    i = semi + 1;
  }
  return false;
}
