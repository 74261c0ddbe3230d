// Per-HTTP-stream facts Envoy keeps in StreamInfo and exposes through properties
// (source/extensions/filters/common/expr/context.cc RequestWrapper, ResponseWrapper,
// ConnectionWrapper, UpstreamWrapper, PeerWrapper, XDSWrapper). All filters of a stream share it.

import type { VmMemory } from './memory.js';

export interface Address {
  ip: string;
  port: number;
  /**
   * "ip:port" once made (addressString): Envoy's Address::Ipv4Instance / Ipv6Instance build
   * their friendly name once, at construction, and asStringView hands out that string, so a
   * property read of upstream.address copies bytes and formats nothing.
   */
  text?: string;
}

/** Envoy's Address::asStringView: "ip:port", IPv6 in brackets. */
export function addressString(a: Address): string {
  const t = a.text;
  if (t !== undefined) return t;
  return (a.text = a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`);
}

// Digits that Number() then String() give back (no leading zero, exact as a double).
const canonicalPort = (d: string): boolean => d.length <= 15 && (d.length === 1 || d.charCodeAt(0) !== 0x30);

export function parseAddress(s: string): Address {
  // The text given is the address's string when it is the one addressString would make
  // (IPv4 "ip:port", IPv6 "[ip]:port", the port without leading zeros): kept, so the
  // string exists from construction, as Envoy's does.
  let m = /^\[(.*)\]:(\d+)$/.exec(s);
  if (m) return { ip: m[1], port: Number(m[2]), text: m[1].includes(':') && canonicalPort(m[2]) ? s : undefined };
  m = /^([^:]*):(\d+)$/.exec(s);
  if (m) return { ip: m[1], port: Number(m[2]), text: canonicalPort(m[2]) ? s : undefined };
  return { ip: s, port: 0, text: undefined };
}

/** ms (possibly fractional) → integer ns without double rounding error. */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

const TWO32 = 2 ** 32;

/**
 * msToNs(ms) written as a u64 at `ptr` (mod 2^64, as setU64), for the clock's host call:
 * Number arithmetic on 32-bit words, exact for 0 <= ms < 2^52 (each step stays below
 * 2^53), where the BigInt path costs ~5 BigInt allocations a call; anything else takes it.
 */
export function setNsOfMs(mem: VmMemory, ptr: number, ms: number): boolean {
  if (!(ms >= 0 && ms < 2 ** 52)) return mem.setU64(ptr, msToNs(ms));
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6);
  const hi = Math.floor(whole / TWO32);
  const low = (whole - hi * TWO32) * 1e6 + frac; // < 2^32 * 1e6 + 1e6 < 2^53
  const carry = Math.floor(low / TWO32);
  return mem.setU64Words(ptr, low - carry * TWO32, hi * 1e6 + carry);
}

let nextConnectionId = 0;
export function allocConnectionId(): number {
  return nextConnectionId++;
}

export class StreamInfo {
  startTimeMs: number;
  protocol: string | undefined = 'HTTP/1.1';
  downstreamRemote: Address = { ip: '127.0.0.1', port: 0 };
  downstreamLocal: Address = { ip: '127.0.0.1', port: 0 };
  connectionId: number | undefined;
  requestedServerName = '';
  responseCode: number | undefined;
  responseCodeDetails: string | undefined;
  responseFlags = 0;
  /** Set once the router picked an upstream host (upstreamInfo().upstreamHost()). */
  upstreamHost: Address | undefined;
  upstreamLocal: Address | undefined;
  upstreamTransportFailureReason = '';
  /** Set by the route lookup (HCM refreshCachedRoute → setUpstreamClusterInfo). */
  clusterName: string | undefined;
  routeName: string | undefined;
  hasRoute = false;
  bytesReceived = 0;
  bytesSent = 0;
  /** requestComplete(): duration since start, once the downstream request finished. */
  requestCompleteMs: number | undefined;
  /** FilterState; proxy_set_property stores under "wasm.<path>" (CelState, bytes). */
  readonly filterState = new Map<string, Buffer>();

  constructor(nowMs: number) {
    this.startTimeMs = nowMs;
  }

  setResponseFlag(flag: number): void {
    this.responseFlags |= flag;
  }
}
