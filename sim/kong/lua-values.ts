// What a value becomes once it has crossed into Kong's Lua and back.
//
// Kong decodes the plugin server's msgpack into Lua tables (lua-MessagePack),
// works on them, and packs results back (mp_rpc.lua) or JSON-encodes them with
// cjson.safe (response bodies, log.serialize, the StartInstance config). Lua has
// no null inside tables and no empty-array/empty-object distinction, so values
// that look harmless in JS change shape on the way. The harness reproduces that
// so a plugin tested here meets the same surprises it would meet in Kong.

/** Arrays that carry cjson.array_mt (schema arrays): encoded as [] when empty. */
const arrayMt = new WeakSet<object>();
/** Tables whose keys are Lua integers but which are not sequences (holes). */
const intKeyed = new WeakSet<object>();

export function markArray<T extends unknown[]>(a: T): T {
  arrayMt.add(a);
  return a;
}

/**
 * Lua strings are bytes, and lua-MessagePack sends them as msgpack str with those
 * raw bytes; the plugin server decodes str as UTF-8. The harness models Lua
 * strings as "byte strings" (one char per byte, 0-255: what Node's HTTP parser
 * gives for header values), so a UTF-8 header value reaches the plugin decoded,
 * as on real Kong, and a plugin's string goes back on the wire as its UTF-8 bytes.
 * (Ill-formed UTF-8 differs: kong-pdk's msgpack decoder does not validate it; the
 * harness yields U+FFFD instead.)
 */
export function toByteString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1');
}

export function fromByteString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'latin1').toString('utf8');
}

/**
 * msgpack value (as decoded from the plugin server) -> Lua value model.
 * nil is `undefined`; a table is a JS array when it is a sequence (an empty
 * table is an empty array), otherwise an object.
 */
export function fromMsgpack(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return toByteString(v);
  if (v instanceof Uint8Array) return v; // a Lua string of raw bytes
  if (Array.isArray(v)) {
    // lua-MessagePack fills t[i] for i = 1..n; nil elements leave holes.
    const present: [number, unknown][] = [];
    v.forEach((x, i) => {
      const lx = fromMsgpack(x);
      if (lx !== undefined) present.push([i + 1, lx]);
    });
    if (present.every(([k], i) => k === i + 1)) return present.map(([, x]) => x);
    const t: Record<string, unknown> = {};
    for (const [k, x] of present) t[String(k)] = x;
    intKeyed.add(t);
    return t;
  }
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const lx = fromMsgpack(x);
      if (lx === undefined) continue; // t[k] = nil removes the key
      out[k] = lx;
      n++;
    }
    return n === 0 ? [] : out; // {} and [] are the same empty Lua table
  }
  return v;
}

/**
 * Lua value -> what lua-MessagePack packs. An empty table packs as an empty
 * array (it counts 0 keys, max index 0: "no holes"), so `{}` comes back as `[]`.
 */
export function toMsgpack(v: unknown): unknown {
  // A nil result leaves the key out of the Lua table it travels in.
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return fromByteString(v);
  if (Array.isArray(v)) return v.map(toMsgpack);
  if (typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const px = toMsgpack(x);
      if (px !== undefined) out[k] = px;
    }
    return out;
  }
  return v;
}

/** A JS value as a plugin reads it back after Kong stored it (ctx.shared, ...). */
export function luaRoundTrip(v: unknown): unknown {
  return toMsgpack(fromMsgpack(v));
}

/** C printf "%.<p>g", which both cjson (p=16 in Kong) and Lua tostring (p=14) use. */
export function formatG(n: number, p: number): string {
  // An integer below 10^p prints as its digits under %.<p>g (no exponent, no fraction):
  // String() gives the same text at a fraction of the cost (serialize's counts and sizes).
  if (Number.isInteger(n) && Math.abs(n) < 10 ** p && !Object.is(n, -0)) return String(n);
  return formatGGeneral(n, p);
}

/** formatG without the integer shortcut (exported for the test that compares the two). */
export function formatGGeneral(n: number, p: number): string {
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mant, ex] = n.toExponential(p - 1).split('e');
  const e = Number(ex);
  const strip = (x: string) => (x.includes('.') ? x.replace(/0+$/, '').replace(/\.$/, '') : x);
  if (e < -4 || e >= p) return `${strip(mant)}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return strip(n.toFixed(Math.max(0, p - 1 - e)));
}

/** Lua's tostring(), as kong.log uses it on its arguments. */
export function luaToString(v: unknown): string {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return v > 0 ? 'nan' : '-nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    return formatG(v, 14);
  }
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return 'table: 0x' + tableAddress(v as object);
}

const addresses = new WeakMap<object, string>();
let nextAddress = 0x7f00_0000;
function tableAddress(t: object): string {
  let a = addresses.get(t);
  if (!a) {
    a = (nextAddress += 0x40).toString(16).padStart(14, '0');
    addresses.set(t, a);
  }
  return a;
}

const ESC: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '/': '\\/', // cjson escapes the forward slash by default; Kong keeps it
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

// The characters encodeString escapes; a string without any is copied as it is.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\/\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const ESCAPED = /["\\/\x00-\x1f\x7f]/g;
const escapeOne = (ch: string) => ESC[ch] ?? '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');

export function encodeString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  // one regex pass (URLs, paths and media types all carry '/', which cjson escapes)
  // rather than a string built character by character
  return '"' + s.replace(ESCAPED, escapeOne) + '"';
}

export class CjsonError extends Error {}

/**
 * cjson.safe.encode as configured by Kong's globalpatches (number precision 16,
 * sparse arrays up to 2^15). Empty tables become `{}` unless they carry
 * cjson.array_mt (see markArray).
 */
export function cjsonEncode(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new CjsonError('Cannot serialise number: must not be NaN or Infinity');
      return formatG(v, 16);
    case 'string':
      return encodeString(v);
    case 'object':
      break;
    default:
      throw new CjsonError(`Cannot serialise ${typeof v}: type not supported`);
  }
  if (v instanceof Uint8Array) return encodeString(Buffer.from(v).toString('utf8'));
  if (Array.isArray(v)) {
    if (v.length === 0) return arrayMt.has(v) ? '[]' : '{}';
    let out = '[' + cjsonEncode(v[0]);
    for (let i = 1; i < v.length; i++) out += ',' + cjsonEncode(v[i]);
    return out + ']';
  }
  const obj = v as Record<string, unknown>;
  if (!intKeyed.has(obj)) {
    // a map: appended pair by pair (serialize's table, once a request, is most of the cost)
    let out = '';
    for (const k in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
      const x = obj[k];
      if (x === undefined) continue;
      out += (out === '' ? '{' : ',') + encodeString(k) + ':' + cjsonEncode(x);
    }
    return out === '' ? '{}' : out + '}';
  }
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  if (keys.length === 0) return '{}';
  if (intKeyed.has(obj)) {
    const max = Math.max(...keys.map(Number));
    if (max <= 2 ** 15) {
      const arr: string[] = [];
      for (let i = 1; i <= max; i++) arr.push(cjsonEncode(obj[String(i)]));
      return '[' + arr.join(',') + ']';
    }
  }
  return '{' + keys.map((k) => encodeString(k) + ':' + cjsonEncode(obj[k])).join(',') + '}';
}
