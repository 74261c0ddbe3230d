// The request mix every bench section replays: realistic browser requests to the
// checkout service (~12 headers). 80% returning users (tandem-uid cookie), 10% users
// known by `x-user-id`, 10% new users (no key: tandem issues a Set-Cookie).
// Deterministic (seeded), so two runs replay the same requests.
import type { Pair } from '../sim/envoy/index';
import { HeaderMap } from '../sim/envoy/header-map';

export type Kind = 'returning' | 'header' | 'new';

export interface BenchRequest {
  kind: Kind;
  /** Envoy request header pairs, pseudo-headers first */
  pairs: Pair[];
  /**
   * The same request as Envoy's codec hands it to the filter chain: a header map whose
   * bytes exist before any filter runs (built here, outside every timing; each stream
   * takes a clone). See HeaderMap.encoded.
   */
  envoy: HeaderMap;
  /** Kong's view: lowercase names, every value an array (get_headers over RPC) */
  kongHeaders: Record<string, string[]>;
  path: string;
}

// xorshift32: deterministic, no dependency
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ((r() * 16) | 0).toString(16);
  return s;
}

function uuid(r: () => number): string {
  const h = hex(r, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const PATHS = ['/checkout/cart', '/checkout/cart?step=2', '/checkout/payment', '/api/cart/items?limit=20', '/checkout/confirm'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];

export function kindAt(i: number): Kind {
  const m = i % 10;
  return m === 0 ? 'new' : m === 5 ? 'header' : 'returning';
}

export function makeRequest(r: () => number, kind: Kind): BenchRequest {
  const path = PATHS[(r() * PATHS.length) | 0];
  const pairs: Pair[] = [
    [':authority', 'shop.example.com'],
    [':path', path],
    [':method', 'GET'],
    [':scheme', 'https'],
    ['user-agent', AGENTS[(r() * AGENTS.length) | 0]],
    ['accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['accept-encoding', 'gzip, deflate, br'],
    ['accept-language', 'en-US,en;q=0.9'],
    ['x-forwarded-proto', 'https'],
    ['x-request-id', uuid(r)],
  ];
  if (kind === 'returning') pairs.push(['cookie', `tandem-uid=${hex(r, 32)}`]);
  if (kind === 'header') pairs.push(['x-user-id', `user-${(r() * 1e6) | 0}`]);
  pairs.push(['referer', 'https://shop.example.com/products']);
  const kongHeaders: Record<string, string[]> = { host: ['shop.example.com'] };
  for (const [k, v] of pairs) if (k[0] !== ':') kongHeaders[k] = [v];
  return { kind, pairs, envoy: HeaderMap.encoded(pairs, 'request'), kongHeaders, path };
}

/** `n` requests in the 80/10/10 mix (kinds interleaved, so any window has the mix). */
export function makeMix(n: number, seed = 0x7a3d): BenchRequest[] {
  const r = rng(seed);
  const out: BenchRequest[] = [];
  for (let i = 0; i < n; i++) out.push(makeRequest(r, kindAt(i)));
  return out;
}

export const RESPONSE_HEADERS: Pair[] = [
  [':status', '200'],
  ['content-type', 'application/json'],
  ['content-length', '1432'],
  ['cache-control', 'no-store'],
  ['date', 'Wed, 27 Nov 2024 08:00:00 GMT'],
  ['x-envoy-upstream-service-time', '12'],
];

/** RESPONSE_HEADERS as the upstream codec hands them to the filter chain (see BenchRequest.envoy). */
export const RESPONSE_MAP = HeaderMap.encoded(RESPONSE_HEADERS, 'response');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
