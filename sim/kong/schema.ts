// Kong's handling of a plugin config, from the Admin API to StartInstance
// (kong/db/schema/init.lua, kong/db/schema/metaschema.lua, kong/db/errors.lua,
// kong/runloop/plugins_iterator.lua):
//  1. insert: process_auto_fields(config, "insert") fills defaults; a missing
//     field without default becomes null, a missing *required* record is built
//     from its own defaults; then validate() rejects unknown fields, wrong
//     types, failed validators, missing required fields.
//  2. the stored entity is read back for the plugins iterator through DAO:each
//     -> row_to_entity -> process_auto_fields(row, "select") with nulls = nil:
//     defaults are filled again, and every null is turned into nil (the key
//     disappears), fields unknown to the schema are dropped, "" strings dropped.
//  3. get_plugin_config adds route_id / service_id / consumer_id (when scoped),
//     __plugin_id, __ws_id, __key__, __seq__; Rpc:call_start_instance sends
//     cjson.encode(conf).
// So what the plugin receives has every field that has a default, *no* key for
// unset fields without default (not null), and Kong's bookkeeping keys.

import { markArray, luaToString } from './lua-values';

export interface FieldDef {
  type: string;
  default?: unknown;
  required?: boolean;
  elements?: FieldDef;
  keys?: FieldDef;
  values?: FieldDef;
  fields?: SchemaFields;
  err?: string;
  [validator: string]: unknown;
}
export type SchemaFields = Record<string, FieldDef>[];
type Ctx = 'insert' | 'select';
type Errors = string | { [k: string]: Errors };

const MSG = {
  ARRAY: 'expected an array',
  SET: 'expected a set',
  MAP: 'expected a map',
  RECORD: 'expected a record',
  STRING: 'expected a string',
  NUMBER: 'expected a number',
  BOOLEAN: 'expected a boolean',
  INTEGER: 'expected an integer',
  FUNCTION: 'expected a function',
  REQUIRED: 'required field missing',
  UNKNOWN: 'unknown field',
};

const VALID_TYPES = new Set(['array', 'set', 'string', 'number', 'boolean', 'integer', 'foreign', 'map', 'record', 'function', 'json']);

const entries = (fields: SchemaFields) => fields.map((f) => Object.entries(f)[0] as [string, FieldDef]);
const isTable = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === 'object' && v !== null;
const deepCopy = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

function handleMissingField(field: FieldDef): unknown {
  if (field.default !== undefined) {
    const copy = deepCopy(field.default);
    if ((field.type === 'array' || field.type === 'set') && Array.isArray(copy)) markArray(copy);
    return copy;
  }
  if (field.required !== true) return null; // ngx.null
  if (field.type === 'record') return processAutoFields(field.fields ?? [], {}, 'insert');
  return undefined;
}

function adjustFieldForContext(field: FieldDef, value: unknown, ctx: Ctx): unknown {
  if (ctx === 'select' && value === null && field.required === true) return handleMissingField(field);
  if (field.type === 'record') {
    // should_recurse_record
    if (value !== null && (value !== undefined || field.required === true)) {
      value = value ?? handleMissingField(field);
      if (isTable(value) && !Array.isArray(value)) return processAutoFields(field.fields ?? [], value, ctx);
    }
  } else if (isTable(value)) {
    let sub: FieldDef | undefined;
    if (field.type === 'array' || field.type === 'set') {
      if (Array.isArray(value)) {
        value = field.type === 'set' ? markArray(dedupe(value)) : markArray([...value]);
      }
      sub = field.elements;
    } else if (field.type === 'map') {
      value = Array.isArray(value) ? [...value] : { ...value };
      sub = field.values;
    }
    if (sub) {
      const t = value as Record<string, unknown>;
      for (const k of Object.keys(t)) t[k] = adjustFieldForContext(sub, t[k], ctx);
    }
  }
  if (value === undefined) return handleMissingField(field);
  return value;
}

function dedupe(a: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  return a.filter((v) => (seen.has(v) ? false : (seen.add(v), true)));
}

export function processAutoFields(fields: SchemaFields, input: Record<string, unknown>, ctx: Ctx): Record<string, unknown> {
  const data: Record<string, unknown> = { ...input };
  const known = new Map(entries(fields));
  for (const [key, field] of known) {
    let value = adjustFieldForContext(field, data[key], ctx);
    if (ctx === 'select') {
      if (value === null) value = undefined; // nulls = nil: the key goes away
      else if (field.type === 'integer' && typeof value === 'number') value = Math.floor(value);
    }
    if (value === undefined) delete data[key];
    else data[key] = value;
  }
  if (ctx === 'select') {
    for (const key of Object.keys(data)) {
      const field = known.get(key);
      if (!field) delete data[key];
      else if (field.type === 'string' && ((field.len_min as number | undefined) ?? 1) > 0 && data[key] === '') delete data[key];
    }
  }
  return data;
}

// ---------------------------------------------------------------- validation

const byteLen = (s: string) => Buffer.byteLength(s, 'utf8');

function isSequence(v: unknown): boolean {
  if (Array.isArray(v)) return true;
  return isTable(v) && Object.keys(v).length === 0; // {} is also an empty Lua sequence
}

/** Lua patterns as Kong's `match` validators use them, translated to RegExp. */
function luaPatternToRegExp(p: string): RegExp | null {
  const classes: Record<string, string> = {
    a: 'A-Za-z', d: '0-9', l: 'a-z', u: 'A-Z', s: '\\s', w: 'A-Za-z0-9', x: '0-9A-Fa-f', p: '!-/:-@\\[-`{-~', c: '\\x00-\\x1f',
  };
  let out = '';
  let inSet = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '%') {
      const n = p[++i];
      if (n === undefined) return null;
      const cls = classes[n.toLowerCase()];
      if (cls) {
        const neg = n !== n.toLowerCase();
        out += inSet ? cls : neg ? `[^${cls}]` : `[${cls}]`;
      } else if (n === 'b' || n === 'f') return null;
      else out += '\\' + n;
    } else if (c === '[') {
      inSet = true;
      out += '[';
      if (p[i + 1] === '^') out += p[++i];
    } else if (c === ']' && inSet) {
      inSet = false;
      out += ']';
    } else if (c === '-' && !inSet) out += '*?';
    else if (!inSet && '\\/{}|'.includes(c)) out += '\\' + c;
    else out += c;
  }
  try {
    return new RegExp(out);
  } catch {
    return null;
  }
}

function length(v: unknown, type: string): number {
  if (typeof v === 'string') return byteLen(v);
  if (Array.isArray(v)) return v.length;
  if (type === 'map' && isTable(v)) return Object.keys(v).length;
  return 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function runValidators(field: FieldDef, value: unknown): string | null {
  const v = value as never;
  const checks: [string, () => string | null][] = [
    ['eq', () => (value === field.eq ? null : `value must be ${luaToString(field.eq)}`)],
    ['ne', () => (value !== field.ne ? null : `value must not be ${luaToString(value)}`)],
    ['not_one_of', () => ((field.not_one_of as unknown[]).includes(value) ? `must not be one of: ${(field.not_one_of as unknown[]).map(luaToString).join(', ')}` : null)],
    ['one_of', () => ((field.one_of as unknown[]).includes(value) ? null : `expected one of: ${(field.one_of as unknown[]).map(luaToString).join(', ')}`)],
    ['gt', () => (v > (field.gt as number) ? null : `value must be greater than ${luaToString(field.gt)}`)],
    ['timestamp', () => (v > 0 ? null : 'expected a valid timestamp')],
    ['uuid', () => (typeof value === 'string' && UUID.test(value) ? null : 'expected a valid UUID')],
    ['between', () => {
      const [lo, hi] = field.between as [number, number];
      return v < lo || v > hi ? `value should be between ${Math.trunc(lo)} and ${Math.trunc(hi)}` : null;
    }],
    ['len_eq', () => (length(value, field.type) === field.len_eq ? null : `length must be ${field.len_eq}`)],
    ['len_min', () => (length(value, field.type) >= (field.len_min as number) ? null : `length must be at least ${field.len_min}`)],
    ['len_max', () => (length(value, field.type) <= (field.len_max as number) ? null : `length must be at most ${field.len_max}`)],
    ['starts_with', () => (String(value).startsWith(field.starts_with as string) ? null : `should start with: ${field.starts_with}`)],
    ['not_match', () => (luaPatternToRegExp(field.not_match as string)?.test(String(value)) ? `invalid value: ${value}` : null)],
    ['match', () => {
      const re = luaPatternToRegExp(field.match as string);
      return !re || re.test(String(value)) ? null : `invalid value: ${value}`;
    }],
    ['contains', () => ((value as unknown[]).includes(field.contains) ? null : `expected to contain: ${luaToString(field.contains)}`)],
  ];
  for (const [name, check] of checks) {
    if (field[name] === undefined) continue;
    const err = check();
    if (err) return field.err ?? err;
  }
  return null;
}

export function validateField(field: FieldDef, value: unknown): Errors | null {
  if (value === null || value === undefined) return field.required ? MSG.REQUIRED : null;
  switch (field.type) {
    case 'array':
    case 'set': {
      if (!isSequence(value)) return field.type === 'array' ? MSG.ARRAY : MSG.SET;
      const errs: Record<string, Errors> = {};
      (Array.isArray(value) ? value : []).forEach((x, i) => {
        const e = validateField({ ...(field.elements as FieldDef), required: true }, x);
        if (e) errs[String(i + 1)] = e;
      });
      if (Object.keys(errs).length) return errs;
      break;
    }
    case 'map': {
      if (!isTable(value)) return MSG.MAP;
      for (const [k, x] of Object.entries(value)) {
        const e = validateField({ ...(field.keys as FieldDef), required: true }, k) ?? validateField({ ...(field.values as FieldDef), required: true }, x);
        if (e) return e;
      }
      break;
    }
    case 'record': {
      if (!isTable(value) || (Array.isArray(value) && value.length > 0)) return MSG.RECORD;
      const copy = processAutoFields(field.fields ?? [], Array.isArray(value) ? {} : value, 'insert');
      return validateRecord(field.fields ?? [], copy);
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return MSG.INTEGER;
      break;
    case 'number':
      if (typeof value !== 'number') return MSG.NUMBER;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return MSG.BOOLEAN;
      break;
    case 'string':
      if (typeof value !== 'string') return MSG.STRING;
      if (field.len_min === undefined) field = { ...field, len_min: 1 }; // empty strings are not accepted by default
      break;
    case 'function':
      return MSG.FUNCTION;
    case 'foreign':
    case 'json':
      break;
    default:
      return `invalid type: ${field.type}`;
  }
  return runValidators(field, value);
}

export function validateRecord(fields: SchemaFields, input: Record<string, unknown>): Record<string, Errors> | null {
  const errors: Record<string, Errors> = {};
  const known = new Map(entries(fields));
  for (const [k, v] of Object.entries(input)) {
    const field = known.get(k);
    if (!field) errors[k] = MSG.UNKNOWN;
    else {
      const e = validateField(field, v);
      if (e) errors[k] = e;
    }
  }
  for (const [name, field] of known) {
    if (field.required && (input[name] === null || input[name] === undefined)) errors[name] = MSG.REQUIRED;
  }
  return Object.keys(errors).length ? errors : null;
}

// ------------------------------------------------------------ schema checks

/** A light MetaSubSchema check (metaschema.lua): types, required attributes. */
export function checkPluginSchema(name: string, fields: unknown): void {
  const errors: string[] = [];
  const attrTypes: Record<string, string[]> = {
    between: ['integer', 'number'],
    one_of: ['string', 'number', 'integer'],
    match: ['string'],
    len_eq: ['array', 'set', 'string', 'map'],
    contains: ['array', 'set'],
    uuid: ['string'],
    timestamp: ['number', 'integer'],
  };
  const required: Record<string, string[]> = { array: ['elements'], set: ['elements'], map: ['keys', 'values'], record: ['fields'] };
  const checkField = (path: string, f: FieldDef) => {
    if (!f || typeof f !== 'object') return void errors.push(`${path}: '${path}' must be a table`);
    if (!f.type) return void errors.push(`${path}: missing type declaration`);
    if (!VALID_TYPES.has(f.type)) errors.push(`${path}: expected one of: ${[...VALID_TYPES].join(', ')}`);
    for (const r of required[f.type] ?? []) if (!f[r]) errors.push(`${path}: field of type '${f.type}' must declare '${r}'`);
    for (const [attr, types] of Object.entries(attrTypes)) {
      if (f[attr] !== undefined && !types.includes(f.type)) errors.push(`${path}: field of type '${f.type}' cannot have attribute '${attr}'`);
    }
    for (const nested of ['elements', 'keys', 'values'] as const) if (f[nested]) checkField(path, f[nested] as FieldDef);
    if (f.fields) checkFields(path, f.fields);
  };
  const checkFields = (path: string, list: unknown) => {
    if (!Array.isArray(list)) return void errors.push(`${path}: 'fields' must be a table`);
    for (const item of list) {
      const keys = item && typeof item === 'object' ? Object.keys(item) : [];
      if (keys.length !== 1) {
        errors.push(`${path}: each entry in fields must be a sub-table with one key`);
        continue;
      }
      checkField(path ? `${path}.${keys[0]}` : keys[0], (item as Record<string, FieldDef>)[keys[0]]);
    }
  };
  checkFields('', fields);
  if (errors.length) throw new Error(`error initializing schema for plugin: ${name}: ${errors.join('; ')}`);
}

// ------------------------------------------------------------ errors

/** pl.pretty.write-like rendering of a nested error table (approximate). */
function prettyLua(v: Errors, indent = ''): string {
  if (typeof v === 'string') return JSON.stringify(v);
  const inner = indent + '  ';
  const keys = Object.keys(v).sort();
  const positional = keys.every((k, i) => k === String(i + 1));
  const lines = keys.map((k) => {
    const val = prettyLua(v[k], inner);
    if (positional) return inner + val;
    return inner + (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `[${/^\d+$/.test(k) ? k : JSON.stringify(k)}]`) + ' = ' + val;
  });
  return '{\n' + lines.join(',\n') + '\n' + indent + '}';
}

export class KongSchemaViolation extends Error {
  readonly name = 'schema violation';
  readonly code = 2;
  constructor(readonly fields: Record<string, Errors>) {
    super(schemaViolationMessage(fields));
  }
}

/** kong/db/errors.lua schema_violation(): the Admin API's 400 message. */
export function schemaViolationMessage(errors: Record<string, Errors>): string {
  const buf: string[] = [];
  for (const name of Object.keys(errors).sort()) {
    const fe = errors[name];
    if (typeof fe === 'string') buf.push(`${name}: ${fe}`);
    else for (const sub of Object.keys(fe).sort()) buf.push(`${name}.${sub}: ${typeof fe[sub] === 'string' ? fe[sub] : prettyLua(fe[sub])}`);
  }
  return buf.length === 1 ? `schema violation (${buf[0]})` : `${buf.length} schema violations (${buf.join('; ')})`;
}

/** Steps 1 and 2 above: what Kong stores and then loads for the iterator. */
export function storedConfig(configFields: SchemaFields, userConfig: Record<string, unknown>): Record<string, unknown> {
  if (!isTable(userConfig) || Array.isArray(userConfig)) throw new KongSchemaViolation({ config: MSG.RECORD });
  const inserted = processAutoFields(configFields, userConfig, 'insert');
  const errs = validateRecord(configFields, inserted);
  if (errs) throw new KongSchemaViolation({ config: errs });
  return processAutoFields(configFields, inserted, 'select');
}
