// Minimal reader for the parts of a Wasm binary the host must inspect before linking.
// Node's WebAssembly.Module.imports() does not expose function signatures, but Envoy's V8
// integration (proxy-wasm-cpp-host src/v8/v8.cc, V8::link / getModuleFunctionImpl) rejects an
// import or a well-known export whose signature differs from the host's, so we parse the type,
// import, function and export sections ourselves. ABI detection follows
// src/bytecode_util.cc BytecodeUtil::getAbiVersion: the first function export named
// proxy_abi_version_X_Y_Z (in export-section order) decides.

import type { AbiVersion } from './abi-status.js';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export interface FuncSig {
  params: ValType[];
  results: ValType[];
}
export interface Limits {
  min: number;
  max?: number;
  shared?: boolean;
}
export type ImportDesc =
  | { module: string; name: string; kind: 'func'; sig: FuncSig }
  | { module: string; name: string; kind: 'table'; element: ValType; limits: Limits }
  | { module: string; name: string; kind: 'memory'; limits: Limits }
  | { module: string; name: string; kind: 'global' }
  | { module: string; name: string; kind: 'tag' };
export interface ExportDesc {
  name: string;
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag';
  index: number;
  sig?: FuncSig;
}
export interface ModuleInfo {
  imports: ImportDesc[];
  exports: ExportDesc[];
  exportByName: Map<string, ExportDesc>;
  abiVersion: AbiVersion | null;
}

export class WasmParseError extends Error {}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};

class Reader {
  pos = 0;
  constructor(
    readonly b: Uint8Array,
    readonly end = b.length,
  ) {}
  byte(): number {
    if (this.pos >= this.end) throw new WasmParseError('Failed to parse corrupted Wasm module');
    return this.b[this.pos++];
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 35) throw new WasmParseError('Failed to parse corrupted Wasm module');
    }
    return result >>> 0;
  }
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new WasmParseError('Failed to parse corrupted Wasm module');
    const s = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, len).toString('utf8');
    this.pos += len;
    return s;
  }
  valtype(): ValType {
    const t = VALTYPES[this.byte()];
    if (!t) throw new WasmParseError('Failed to parse corrupted Wasm module');
    return t;
  }
  limits(): Limits {
    const flags = this.byte();
    const min = this.u32();
    const max = flags & 1 ? this.u32() : undefined;
    return { min, max, shared: (flags & 2) !== 0 };
  }
}

export function parseModule(bytes: Uint8Array): ModuleInfo {
  if (
    bytes.length < 8 ||
    bytes[0] !== 0 ||
    bytes[1] !== 0x61 ||
    bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d
  ) {
    throw new WasmParseError('Failed to parse corrupted Wasm module');
  }
  const types: FuncSig[] = [];
  const imports: ImportDesc[] = [];
  const funcTypeIdx: number[] = []; // function index space: imports first, then defined functions
  const exports: ExportDesc[] = [];
  const r = new Reader(bytes);
  r.pos = 8;
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const sectionEnd = r.pos + size;
    if (sectionEnd > bytes.length) throw new WasmParseError('Failed to parse corrupted Wasm module');
    const s = new Reader(bytes, sectionEnd);
    s.pos = r.pos;
    if (id === 1) {
      const n = s.u32();
      for (let i = 0; i < n; i++) {
        if (s.byte() !== 0x60) throw new WasmParseError('Failed to parse corrupted Wasm module');
        const np = s.u32();
        const params: ValType[] = [];
        for (let j = 0; j < np; j++) params.push(s.valtype());
        const nr = s.u32();
        const results: ValType[] = [];
        for (let j = 0; j < nr; j++) results.push(s.valtype());
        types.push({ params, results });
      }
    } else if (id === 2) {
      const n = s.u32();
      for (let i = 0; i < n; i++) {
        const module = s.name();
        const name = s.name();
        const kind = s.byte();
        if (kind === 0) {
          const ti = s.u32();
          funcTypeIdx.push(ti);
          imports.push({ module, name, kind: 'func', sig: types[ti] });
        } else if (kind === 1) {
          const element = s.valtype();
          imports.push({ module, name, kind: 'table', element, limits: s.limits() });
        } else if (kind === 2) {
          imports.push({ module, name, kind: 'memory', limits: s.limits() });
        } else if (kind === 3) {
          s.valtype();
          s.byte();
          imports.push({ module, name, kind: 'global' });
        } else if (kind === 4) {
          s.byte();
          s.u32();
          imports.push({ module, name, kind: 'tag' });
        } else {
          throw new WasmParseError('Failed to parse corrupted Wasm module');
        }
      }
    } else if (id === 3) {
      const n = s.u32();
      for (let i = 0; i < n; i++) funcTypeIdx.push(s.u32());
    } else if (id === 7) {
      const n = s.u32();
      const kinds = ['func', 'table', 'memory', 'global', 'tag'] as const;
      for (let i = 0; i < n; i++) {
        const name = s.name();
        const kind = kinds[s.byte()];
        if (!kind) throw new WasmParseError('Failed to parse corrupted Wasm module');
        exports.push({ name, kind, index: s.u32() });
      }
    }
    r.pos = sectionEnd;
  }
  for (const e of exports) {
    if (e.kind === 'func') e.sig = types[funcTypeIdx[e.index]];
  }
  let abiVersion: AbiVersion | null = null;
  for (const e of exports) {
    if (e.kind !== 'func') continue;
    if (e.name === 'proxy_abi_version_0_1_0') abiVersion = '0.1.0';
    else if (e.name === 'proxy_abi_version_0_2_0') abiVersion = '0.2.0';
    else if (e.name === 'proxy_abi_version_0_2_1') abiVersion = '0.2.1';
    if (abiVersion) break;
  }
  return { imports, exports, exportByName: new Map(exports.map((e) => [e.name, e])), abiVersion };
}

export function sigToString(sig: FuncSig): string {
  const p = sig.params.length ? sig.params.join(' ') : 'void';
  const r = sig.results.length ? sig.results.join(' ') : 'void';
  return `${p} -> ${r}`;
}

export function sigEquals(a: FuncSig, b: FuncSig): boolean {
  if (a.params.length !== b.params.length || a.results.length !== b.results.length) return false;
  for (let i = 0; i < a.params.length; i++) if (a.params[i] !== b.params[i]) return false;
  for (let i = 0; i < a.results.length; i++) if (a.results[i] !== b.results[i]) return false;
  return true;
}
