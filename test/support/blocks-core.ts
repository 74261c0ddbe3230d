// Compiles wasm/core/testing/blocks-api.ts (the test entry of the regex engine, the
// GrowthBook hashing and SHA-256/HMAC) with the installed asc and the "core" target of
// asconfig.json, caches the module by the hash of the core's sources, and wraps its
// flat ABI for tests.
import { readFileSync } from "node:fs";
import { compileTestEntry } from "./compile-entry";

// Path of the compiled test module; extraArgs e.g. ["--runtime", "stub"].
export function compileBlocksCore(extraArgs: string[] = []): string {
  return compileTestEntry("wasm/core/testing/blocks-api.ts", extraArgs);
}

interface Exports {
  memory: WebAssembly.Memory;
  _initialize?: () => void;
  blocks_arena(size: number): number;
  blocks_out_ptr(): number;
  blocks_out_len(): number;
  regex_compile(len: number, flags: number): number;
  regex_error_offset(): number;
  regex_program_length(h: number): number;
  regex_search(h: number, len: number): number;
  regex_search_repeat(h: number, len: number, times: number): number;
  regex_release(h: number): void;
  gb_configure(n: number, seedLen: number, coverage: number, asBp: number): number;
  gb_hash(h: number, keyLen: number): number;
  gb_choose(h: number, keyLen: number): number;
  sha256_hex(len: number): void;
  hmac_new(len: number): number;
  hmac_hex(h: number, len: number): void;
  hmac_verify(h: number, len: number, tokenLen: number): number;
  ct_equal(len: number): number;
  blocks_memory_bytes(): number;
  work_steps(): number;
  work_steps_reset(): void;
}

export class RegexSyntaxError extends Error {
  constructor(message: string, readonly offset: number) { super(message); }
}

export type Input = string | Uint8Array;

export class BlocksCore {
  readonly ex: Exports;
  private enc = new TextEncoder();
  private dec = new TextDecoder();

  constructor(bytes: Uint8Array) {
    const text = (p: number): string => {
      if (!p) return "";
      const m = new Uint8Array(this.ex.memory.buffer);
      const n = new Uint32Array(m.buffer, p - 4, 1)[0];
      return new TextDecoder("utf-16le").decode(m.subarray(p, p + n));
    };
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), {
      env: {
        abort(m: number, f: number, line: number, col: number): void {
          throw new Error(`blocks core aborted: ${text(m)} at ${text(f)}:${line}:${col}`);
        },
      },
    });
    this.ex = inst.exports as unknown as Exports;
    this.ex._initialize?.();
  }

  static load(extraArgs: string[] = []): BlocksCore {
    return new BlocksCore(readFileSync(compileBlocksCore(extraArgs)));
  }

  private mem(): Uint8Array { return new Uint8Array(this.ex.memory.buffer); }

  // Writes the parts back to back at the arena start; returns their byte lengths.
  private put(...parts: Input[]): number[] {
    const bs = parts.map((p) => (typeof p === "string" ? this.enc.encode(p) : p));
    const total = bs.reduce((n, b) => n + b.length, 0);
    const ptr = this.ex.blocks_arena(total + 16);
    const m = this.mem();
    let at = ptr;
    for (const b of bs) { m.set(b, at); at += b.length; }
    return bs.map((b) => b.length);
  }

  private outText(): string {
    const p = this.ex.blocks_out_ptr();
    return this.dec.decode(this.mem().subarray(p, p + this.ex.blocks_out_len()));
  }

  // ---- regex ----

  // A handle; throws RegexSyntaxError (message, byte offset) when rejected. nfaOnly
  // turns the lazy DFA off (every byte stepped on the NFA).
  compileRegex(pattern: Input, ignoreCase = false, nfaOnly = false): number {
    const [len] = this.put(pattern);
    const h = this.ex.regex_compile(len, (ignoreCase ? 1 : 0) | (nfaOnly ? 2 : 0));
    if (h < 0) throw new RegexSyntaxError(this.outText(), this.ex.regex_error_offset());
    return h;
  }

  // null when the pattern compiles, else the error.
  regexError(pattern: Input, ignoreCase = false): RegexSyntaxError | null {
    try { this.releaseRegex(this.compileRegex(pattern, ignoreCase)); return null; } catch (e) {
      if (e instanceof RegexSyntaxError) return e;
      throw e;
    }
  }

  programLength(h: number): number { return this.ex.regex_program_length(h); }
  search(h: number, input: Input): boolean { const [len] = this.put(input); return this.ex.regex_search(h, len) === 1; }

  // Puts the input once; returns a function searching it `times` times (for timing).
  searcher(h: number, input: Input): (times: number) => number {
    const [len] = this.put(input);
    return (times) => this.ex.regex_search_repeat(h, len, times);
  }

  releaseRegex(h: number): void { this.ex.regex_release(h); }

  // Inner-loop steps one search takes (regex automaton and literal scan; counted by the
  // test build, wasm/core/text/steps.ts): work as an exact count, the same on any machine.
  searchSteps(h: number, input: Input): number {
    const [len] = this.put(input);
    this.ex.work_steps_reset();
    this.ex.regex_search(h, len);
    return this.ex.work_steps();
  }

  // ---- GrowthBook ----

  // weights as fractions (asBp false) or integer basis points (asBp true).
  growthbook(seed: string, weights: number[], coverage = 1, asBp = false): number {
    const s = this.enc.encode(seed);
    const ptr = this.ex.blocks_arena(weights.length * 8 + s.length + 16);
    new Float64Array(this.ex.memory.buffer, ptr, weights.length).set(weights);
    this.mem().set(s, ptr + weights.length * 8);
    return this.ex.gb_configure(weights.length, s.length, coverage, asBp ? 1 : 0);
  }
  gbHash(h: number, key: Input): number { const [len] = this.put(key); return this.ex.gb_hash(h, len); }
  gbChoose(h: number, key: Input): number { const [len] = this.put(key); return this.ex.gb_choose(h, len); }

  // ---- SHA-256 / HMAC ----

  sha256Hex(msg: Input): string { const [len] = this.put(msg); this.ex.sha256_hex(len); return this.outText(); }
  hmac(key: Input): number { const [len] = this.put(key); return this.ex.hmac_new(len); }
  hmacHex(h: number, msg: Input): string { const [len] = this.put(msg); this.ex.hmac_hex(h, len); return this.outText(); }
  hmacVerify(h: number, msg: Input, token: Input): boolean {
    const [len, tlen] = this.put(msg, token);
    return this.ex.hmac_verify(h, len, tlen) === 1;
  }
  ctEqual(a: Input, b: Input): boolean {
    const [la, lb] = this.put(a, b);
    if (la !== lb) throw new Error("ctEqual needs equal lengths");
    return this.ex.ct_equal(la) === 1;
  }

  memoryBytes(): number { return this.ex.memory.buffer.byteLength; }
}
