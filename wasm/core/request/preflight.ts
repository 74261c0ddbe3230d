// CORS preflights, recognised here for every adapter. A preflight is an OPTIONS request
// carrying Access-Control-Request-Method (Fetch standard, "CORS-preflight request"):
// a browser sends it before a cross-origin request it may not send unasked, and
// sends it *without credentials* — no cookies, no Authorization, none of the request
// headers it is asking about (those are only named in Access-Control-Request-Headers).
// So a preflight carries none of a user's stickiness sources: whatever variant it got
// would be a coin toss unrelated to the request it precedes, and a new user's cookie
// set on its answer is ignored by the browser (Set-Cookie on a preflight response is
// not processed by the CORS protocol). tandem treats it as out of every experiment's
// scope (no variant, no Set-Cookie, the client's variant header removed: the gateway's
// default route answers it, as it answers any request an experiment does not govern),
// and the breaker neither admits nor counts it (docs/policy.md "CORS preflights").
//
// The header is read first (it is among the headers every adapter already has); the
// method only when the header is present: on Kong the method is one RPC
// (kong.request.get_method), asked for only then (NEED_ON_DEMAND, ../contract.ts).
import { PREFLIGHT_HEADER } from "../contract";
export { PREFLIGHT_HEADER } from "../contract";

const OPTIONS = "OPTIONS";

// Whether `len` bytes at `p` are the method OPTIONS (methods are case-sensitive,
// RFC 9110 9.1; browsers send it upper-case).
export function isOptionsMethod(p: usize, len: i32): bool {
  if (len != OPTIONS.length) return false;
  for (let i = 0; i < len; i++) if (<i32>load<u8>(p + i) != OPTIONS.charCodeAt(i)) return false;
  return true;
}
