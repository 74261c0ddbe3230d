// A request's sticky key from one stickiness source (cookie, header, query, ip): shared by
// the experiment and by fault injection's `by: user`, so both read the very same key.
// Allocation: none per request; the query parser's scratch (as long as the query) grows
// only when a longer query arrives, and is kept.
import { Bytes, isOws } from "../text/bytes";
import { findCookie } from "../request/cookie";
import { findQuery } from "../request/query";
import { Source, SourceKind } from "./settings";

export class KeySourceReader {
  private scratch: StaticArray<u8> = new StaticArray<u8>(256);

  // The key from `src` given its fact `raw`, into `out`; false when the source has none.
  read(src: Source, raw: Bytes, out: Bytes): bool {
    if (!raw.present) return false;
    if (src.kind == SourceKind.Cookie) return findCookie(raw, src.nameBytes, out);
    if (src.kind == SourceKind.Query) {
      if (this.scratch.length < raw.len) this.scratch = new StaticArray<u8>(raw.len + 64);
      return findQuery(raw, src.nameBytes, changetype<usize>(this.scratch), out);
    }
    // header and ip: the value, trimmed of optional whitespace
    let a = raw.ptr;
    let n = raw.len;
    while (n > 0 && isOws(load<u8>(a))) { a++; n--; }
    while (n > 0 && isOws(load<u8>(a + n - 1))) n--;
    out.set(a, n);
    return true;
  }
}
