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
  let out = "";
  for (let i = 0; i < b.byteLength; i++) {
    const c = <i32>load<u8>(p + i);
    if (c < 0x20 || c >= 0x7e || c == 0x25) out += "%" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    else out += String.fromCharCode(c);
  }
  return out;
}
