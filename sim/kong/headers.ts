// Header lists with nginx/OpenResty semantics, as Kong's PDK sees them.
//  - ngx.req.get_headers(max = lua_max_req_headers = 100): lowercase names,
//    a repeated header becomes an array of its values in order, entries past
//    `max` are dropped ("truncated").
//  - ngx.var.http_<name> / kong.request.get_header: case-insensitive, '-' and
//    '_' are the same character; the first occurrence wins.
//  - ngx.req.set_header / clear_header: case-insensitive on the exact name.
//  - mp_rpc.lua fix_mmap: over RPC every value of such a table is an array
//    (a bare `true`, e.g. a query flag, is an empty array; an empty table is
//    an empty map).

export type HeaderTable = Record<string, string | string[]>;

export class HeaderList {
  constructor(public entries: [string, string][] = []) {}

  static fromRaw(raw: string[]): HeaderList {
    const e: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) e.push([raw[i], raw[i + 1]]);
    return new HeaderList(e);
  }

  clone(): HeaderList {
    return new HeaderList(this.entries.map(([n, v]) => [n, v]));
  }

  /** ngx.req.get_headers() / ngx.resp.get_headers() */
  table(max = 100): HeaderTable {
    const t: HeaderTable = {};
    for (const [name, value] of this.entries.slice(0, max)) {
      const k = name.toLowerCase();
      const cur = t[k];
      if (cur === undefined) t[k] = value;
      else if (Array.isArray(cur)) cur.push(value);
      else t[k] = [cur, value];
    }
    return t;
  }

  /** kong.request.get_header: the first value, looked up like $http_<name>. */
  first(name: string): string | undefined {
    const want = normVar(name);
    for (const [n, v] of this.entries) if (normVar(n) === want) return v;
    return undefined;
  }

  all(name: string): string[] {
    const want = name.toLowerCase();
    return this.entries.filter(([n]) => n.toLowerCase() === want).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.all(name).length > 0;
  }

  /** Replace every header of that name; the first one keeps its position. */
  set(name: string, values: string | string[]) {
    const vals = Array.isArray(values) ? values : [values];
    const want = name.toLowerCase();
    const at = this.entries.findIndex(([n]) => n.toLowerCase() === want);
    this.entries = this.entries.filter(([n]) => n.toLowerCase() !== want);
    const fresh = vals.map((v) => [name, v] as [string, string]);
    if (at < 0) this.entries.push(...fresh);
    else this.entries.splice(at, 0, ...fresh);
  }

  add(name: string, values: string | string[]) {
    for (const v of Array.isArray(values) ? values : [values]) this.entries.push([name, v]);
  }

  clear(name: string) {
    const want = name.toLowerCase();
    this.entries = this.entries.filter(([n]) => n.toLowerCase() !== want);
  }

  /** Flattened for node's http (raw pairs keep order and repeats). */
  raw(): string[] {
    return this.entries.flatMap(([n, v]) => [n, v]);
  }
}

function normVar(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/** Lookup in a saved get_headers() table (its metatable normalizes the key). */
export function lookupNormalized(t: HeaderTable | undefined, name: string): string | string[] | undefined {
  if (!t) return undefined;
  const want = name.toLowerCase().replace(/_/g, '-');
  if (t[want] !== undefined) return t[want];
  for (const k of Object.keys(t)) if (normVar(k) === normVar(name)) return t[k];
  return undefined;
}

/** mp_rpc.lua fix_mmap: the shape StepMultiMap carries. */
export function fixMultiMap(t: Record<string, unknown> | undefined | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!t) return out;
  for (const [k, v] of Object.entries(t)) {
    if (v === true) out[k] = [];
    else if (typeof v === 'string') out[k] = [v];
    else out[k] = v;
  }
  return out;
}

/** checks.normalize_multi_header: "" becomes " ", numbers/booleans tostring. */
export function normalizeMultiHeader(v: unknown, tostring: (x: unknown) => string): string | string[] {
  if (typeof v === 'string') return v === '' ? ' ' : v;
  if (Array.isArray(v)) return v.map((x) => (x === '' ? ' ' : (x as string)));
  return tostring(v);
}

/** ngx.req.get_uri_args semantics: repeated keys -> arrays, bare key -> true. */
export function decodeArgs(query: string, max = 100): Record<string, string | true | (string | true)[]> {
  const out: Record<string, string | true | (string | true)[]> = {};
  if (!query) return out;
  let n = 0;
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (n++ >= max) break;
    const eq = part.indexOf('=');
    const k = unescapeUri(eq < 0 ? part : part.slice(0, eq));
    const v: string | true = eq < 0 ? true : unescapeUri(part.slice(eq + 1));
    if (k === '') continue;
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else out[k] = [cur, v];
  }
  return out;
}

function unescapeUri(s: string): string {
  const plus = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}
