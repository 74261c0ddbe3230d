// A local reply tandem sends (proxy_send_local_response): the breaker's rejection and
// fallback, a fault's abort.
import { utf8 } from "../core/text/bytes";
import { sendLocalResponse } from "./host";

const RETRY_AFTER = utf8("retry-after");

// A local reply tandem sends: status, body and extra headers, the headers serialized
// (proxy-wasm pairs) into one buffer sized at configure time, plus an optional
// Retry-After written per reply.
export class LocalReply {
  names: Array<StaticArray<u8>> = new Array<StaticArray<u8>>(0);
  values: Array<StaticArray<u8>> = new Array<StaticArray<u8>>(0);
  buf: StaticArray<u8> = new StaticArray<u8>(0);
  digits: StaticArray<u8> = new StaticArray<u8>(12);

  // grpcStatus >= 0: the reply to a gRPC request. Envoy then sends a trailers-only 200
  // with content-type application/grpc, this grpc-status and the body as grpc-message
  // (Utility::prepareLocalReply); such a reply must carry no content-type of its own
  // (Envoy's addCopy would append it to application/grpc).
  constructor(public status: u32, public body: StaticArray<u8>, public retryAfter: bool, public grpcStatus: i32 = -1) {}

  add(name: StaticArray<u8>, value: StaticArray<u8>): LocalReply {
    this.names.push(name);
    this.values.push(value);
    return this;
  }

  seal(): LocalReply {
    let size = 4 + 8 + RETRY_AFTER.length + 2 + this.digits.length;
    for (let i = 0; i < this.names.length; i++) size += 8 + this.names[i].length + this.values[i].length + 2;
    this.buf = new StaticArray<u8>(size);
    return this;
  }

  // proxy_send_local_response, with retry-after: <seconds> when seconds >= 0 and this
  // reply carries one.
  send(details: StaticArray<u8>, seconds: i32): void {
    if (!this.retryAfter) seconds = -1;
    let nd = 0;
    if (seconds >= 0) {
      let v = seconds;
      let n = 1;
      for (let x = v / 10; x > 0; x /= 10) n++;
      for (let i = n - 1; i >= 0; i--) { this.digits[i] = <u8>(0x30 + v % 10); v /= 10; }
      nd = n;
    }
    const names = this.names;
    const values = this.values;
    const p = changetype<usize>(this.buf);
    store<u32>(p, <u32>(names.length + (seconds >= 0 ? 1 : 0)));
    let q = p + 4;
    for (let i = 0; i < names.length; i++) {
      store<u32>(q, <u32>unchecked(names[i]).length);
      store<u32>(q, <u32>unchecked(values[i]).length, 4);
      q += 8;
    }
    if (seconds >= 0) {
      store<u32>(q, <u32>RETRY_AFTER.length);
      store<u32>(q, <u32>nd, 4);
      q += 8;
    }
    for (let i = 0; i < names.length; i++) {
      q = put(q, unchecked(names[i]), unchecked(names[i]).length);
      q = put(q, unchecked(values[i]), unchecked(values[i]).length);
    }
    if (seconds >= 0) {
      q = put(q, RETRY_AFTER, RETRY_AFTER.length);
      q = put(q, this.digits, nd);
    }
    sendLocalResponse(this.status, details, changetype<usize>(this.body), this.body.length, p, <i32>(q - p), this.grpcStatus);
  }
}

function put(q: usize, b: StaticArray<u8>, n: i32): usize {
  memory.copy(q, changetype<usize>(b), <usize>n);
  store<u8>(q + <usize>n, 0);
  return q + <usize>n + 1;
}

