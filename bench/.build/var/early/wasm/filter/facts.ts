// Envoy's answers to the core's fact needs (see wasm/core/facts.ts).
import { Bytes, utf8 } from "../core/bytes";
import { Fact, FactSource, Need } from "../core/facts";
import { REQUEST_HEADERS, getHeader, getProperty } from "./host";

const PATH = utf8(":path");
const AUTHORITY = utf8(":authority");
const METHOD = utf8(":method");
// Envoy sets x-request-id (a UUID) on every request unless configured otherwise.
const REQUEST_ID = utf8("x-request-id");
const SOURCE_ADDRESS = utf8("source\0address");

export class EnvoyFacts extends FactSource {
  fetch(slot: i32, need: Need, out: Bytes): void {
    switch (need.kind) {
      case Fact.Header: getHeader(REQUEST_HEADERS, need.nameBytes, out); break;
      case Fact.Path: getHeader(REQUEST_HEADERS, PATH, out); break;
      case Fact.Host: getHeader(REQUEST_HEADERS, AUTHORITY, out); break;
      case Fact.Method: getHeader(REQUEST_HEADERS, METHOD, out); break;
      case Fact.Entropy: getHeader(REQUEST_HEADERS, REQUEST_ID, out); break;
      case Fact.ClientIp: getProperty(SOURCE_ADDRESS, out); stripPort(out); break;
    }
  }
}

// "10.0.0.1:5555" -> "10.0.0.1", "[::1]:5555" -> "::1": Kong's client.get_ip() has no port.
function stripPort(b: Bytes): void {
  if (!b.present || b.len == 0) return;
  const p = b.ptr;
  if (load<u8>(p) == 0x5b) {
    let i = 1;
    while (i < b.len && load<u8>(p + i) != 0x5d) i++;
    b.set(p + 1, i - 1);
    return;
  }
  let colons = 0;
  let last = -1;
  for (let i = 0; i < b.len; i++) if (load<u8>(p + i) == 0x3a) { colons++; last = i; }
  if (colons == 1) b.len = last;
}
