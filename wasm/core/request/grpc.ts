// gRPC requests and the gRPC shape of tandem's own answers, decided here for both
// gateways.
//
// A request is gRPC when its content-type is exactly "application/grpc" or starts with
// "application/grpc+" (Envoy Grpc::Common::hasGrpcContentType, source/common/grpc/
// common.cc, what its local replies go by; "application/grpc-web" is not gRPC). Kong's
// kong.response.exit (kong/pdk/response.lua is_grpc_request) takes any prefix
// "application/grpc" on HTTP/2; tandem's Kong plugins ask this predicate instead, so
// both gateways shape the same requests alike.
//
// grpc-message is the body text percent-encoded as Envoy's PercentEncoding::encode does
// for local replies (source/common/http/utility.cc Utility::prepareLocalReply): every
// byte below 0x20 or from 0x7e up, and '%', as %XX (upper-case hex), per gRPC's
// PROTOCOL-HTTP2 "Status-Message".
const GRPC_TYPE = "application/grpc";

export function isGrpcContentType(p: usize, len: i32): bool {
  const n = GRPC_TYPE.length;
  if (len < n) return false;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + i) != GRPC_TYPE.charCodeAt(i)) return false;
  return len == n || load<u8>(p + n) == 0x2b;   // '+'
}

const HEX = "0123456789ABCDEF";

export function grpcMessage(text: string): string {
  const b = String.UTF8.encode(text);
  const p = changetype<usize>(b);
  const n = b.byteLength;
  // sized first, written into one buffer: linear (a body reaches 64 KiB; appending per
  // byte left quadratic garbage the Node core collects only between calls, api.ts)
  let size = 0;
  for (let i = 0; i < n; i++) size += escaped(<i32>load<u8>(p + i)) ? 3 : 1;
  const out = new StaticArray<u16>(size);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + i);
    if (escaped(c)) {
      unchecked(out[o++] = 0x25);
      unchecked(out[o++] = <u16>HEX.charCodeAt(c >> 4));
      unchecked(out[o++] = <u16>HEX.charCodeAt(c & 15));
    } else unchecked(out[o++] = <u16>c);
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(out), <usize>size << 1);
}

// @ts-ignore: decorator
@inline function escaped(c: i32): bool { return c < 0x20 || c >= 0x7e || c == 0x25; }
