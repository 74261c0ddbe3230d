// Compiles wasm/core/testing/breaker-api.ts (the breaker core's test entry) with the
// installed asc and the "core" target of asconfig.json, caches the module by the hash
// of the core's sources, and wraps its flat ABI for tests.
import { readFileSync } from "node:fs";
import { compileTestEntry } from "./compile-entry";

// Path of the compiled test module; extraArgs e.g. ["--runtime", "stub"].
export function compileBreakerCore(extraArgs: string[] = []): string {
  return compileTestEntry("wasm/core/testing/breaker-api.ts", extraArgs);
}

export const STATE_NAMES = ["CLOSED", "OPEN", "HALF_OPEN"] as const;
export type StateName = (typeof STATE_NAMES)[number];
export const ERROR = { none: 0, connect: 1, reset: 2, timeout: 3 } as const;
export const OUTCOME = { success: 0, failure: 1, ignored: 2 } as const;

export interface Admission {
  admitted: boolean;
  permitted: boolean;
  probe: boolean;
  changed: boolean;
  state: StateName;
  generation: number;
  retryAfterMs: number;
  flags: number;
}

export interface StateSnapshot {
  state: StateName; reason: string; generation: number;
  clockMs: number; sinceMs: number; openUntilMs: number; openMs: number;
  backoffLevel: number; consecutive: number;
  calls: number; failures: number; slow: number;
  probesIssued: number; probesSeen: number; probeFailures: number; probeSlow: number; probeActivityMs: number;
}

export interface Outcome { status?: number; error?: number; latencyMs?: number }

export class BreakerConfigError extends Error {}

interface Exports {
  memory: WebAssembly.Memory;
  _initialize?: () => void;
  breaker_arena(size: number): number;
  breaker_out_ptr(): number;
  breaker_out_len(): number;
  breaker_configure(len: number, which: number, seed: number): number;
  breaker_allow(keyLen: number, nowMs: number): number;
  breaker_generation(): number;
  breaker_retry_after(): number;
  breaker_record(keyLen: number, flags: number, gen: number, status: number, error: number, latencyMs: number, nowMs: number): number;
  breaker_advance(keyLen: number, nowMs: number): number;
  breaker_state(keyLen: number): number;
  breaker_keys(): number;
  breaker_evictions(): number;
  breaker_has(keyLen: number): number;
  breaker_lru(): void;
  breaker_classify(status: number, error: number): number;
  breaker_retry_after_seconds(ms: number): number;
  breaker_fallback(outcome: number, methodLen: number): number;
  breaker_encoded_size(): number;
  breaker_encode(keyLen: number): number;
  breaker_decode(keyLen: number, dataLen: number): number;
  breaker_shared_allow(len: number, nowMs: number): number;
  breaker_shared_generation(): number;
  breaker_shared_record(len: number, flags: number, gen: number, status: number, error: number, latencyMs: number, nowMs: number): number;
  breaker_churn(keyLen: number, n: number, nowMs: number, stepMs: number): number;
  breaker_work_steps(): number;
  breaker_work_steps_reset(): void;
}

function admissionOf(v: number, generation: number, retryAfterMs: number): Admission {
  return {
    admitted: (v & 1) !== 0, permitted: (v & 2) !== 0, probe: (v & 4) !== 0, changed: (v & 8) !== 0,
    state: STATE_NAMES[(v >> 8) & 0xff], generation: generation >>> 0, retryAfterMs, flags: v & 7,
  };
}

export class BreakerCore {
  readonly ex: Exports;
  private enc = new TextEncoder();
  private dec = new TextDecoder();

  constructor(bytes: Uint8Array) {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as unknown as BufferSource), {
      env: {
        abort(_m: number, _f: number, line: number, col: number): void {
          throw new Error(`breaker core aborted at ${line}:${col}`);
        },
      },
    });
    this.ex = inst.exports as unknown as Exports;
    this.ex._initialize?.();
  }

  static load(extraArgs: string[] = []): BreakerCore {
    return new BreakerCore(readFileSync(compileBreakerCore(extraArgs)));
  }

  private mem(): Uint8Array { return new Uint8Array(this.ex.memory.buffer); }

  private putText(text: string): number {
    const ptr = this.ex.breaker_arena(text.length * 3 + 16);
    return this.enc.encodeInto(text, this.mem().subarray(ptr)).written;
  }

  // Key bytes at the arena start, optionally followed by `extra`; returns the key length.
  private putKey(key: string, extra?: Uint8Array): number {
    const k = this.enc.encode(key);
    const ptr = this.ex.breaker_arena(k.length + (extra?.length ?? 0) + 16);
    const m = this.mem();
    m.set(k, ptr);
    if (extra) m.set(extra, ptr + k.length);
    return k.length;
  }

  private putBytes(b: Uint8Array | null): number {
    const ptr = this.ex.breaker_arena((b?.length ?? 0) + 16);
    if (b) this.mem().set(b, ptr);
    return b?.length ?? 0;
  }

  private outText(): string {
    const p = this.ex.breaker_out_ptr();
    return this.dec.decode(this.mem().subarray(p, p + this.ex.breaker_out_len()));
  }

  private outBytes(): Uint8Array {
    const p = this.ex.breaker_out_ptr();
    return this.mem().slice(p, p + this.ex.breaker_out_len());
  }

  // which: "plugin" (circuitBreaker fields + fallback), "breaker" (spec.circuitBreaker), "fallback".
  // Returns the settings (or fallback) description; throws BreakerConfigError.
  configure(cfg: unknown, which: "plugin" | "breaker" | "fallback" = "plugin", seed = 0): any {
    const text = typeof cfg === "string" ? cfg : JSON.stringify(cfg);
    const w = which === "plugin" ? 0 : which === "breaker" ? 1 : 2;
    const ok = this.ex.breaker_configure(this.putText(text), w, seed);
    const out = this.outText();
    if (ok !== 1) throw new BreakerConfigError(out);
    return JSON.parse(out);
  }

  // null when valid, else the error text.
  validate(cfg: unknown, which: "plugin" | "breaker" | "fallback" = "plugin"): string | null {
    try { this.configure(cfg, which); return null; } catch (e) {
      if (e instanceof BreakerConfigError) return e.message;
      throw e;
    }
  }

  allow(key: string, nowMs: number): Admission {
    const v = this.ex.breaker_allow(this.putKey(key), nowMs);
    return admissionOf(v, this.ex.breaker_generation(), this.ex.breaker_retry_after());
  }

  // Returns the classification (OUTCOME) or -1 when the key is gone.
  record(key: string, adm: Admission, o: Outcome, nowMs: number): number {
    return this.ex.breaker_record(this.putKey(key), adm.flags, adm.generation, o.status ?? 0, o.error ?? 0, o.latencyMs ?? 0, nowMs);
  }

  advance(key: string, nowMs: number): number { return this.ex.breaker_advance(this.putKey(key), nowMs); }

  state(key: string): StateSnapshot | null {
    return this.ex.breaker_state(this.putKey(key)) === 1 ? JSON.parse(this.outText()) : null;
  }

  keys(): number { return this.ex.breaker_keys(); }
  evictions(): number { return this.ex.breaker_evictions() >>> 0; }
  has(key: string): boolean { return this.ex.breaker_has(this.putKey(key)) === 1; }
  lru(): string[] { this.ex.breaker_lru(); return JSON.parse(this.outText()); }
  classify(status: number, error = 0): number { return this.ex.breaker_classify(status, error); }
  retryAfterSeconds(ms: number): number { return this.ex.breaker_retry_after_seconds(ms); }

  // "none" | "respond" | "reroute" for a rejected call, or after an upstream outcome.
  fallback(on: { rejected: true } | { outcome: number; method: string }): string {
    const v = "rejected" in on
      ? this.ex.breaker_fallback(-1, 0)
      : this.ex.breaker_fallback(on.outcome, this.putKey(on.method));
    return ["none", "respond", "reroute"][v];
  }
  encodedSize(): number { return this.ex.breaker_encoded_size(); }

  encode(key: string): Uint8Array | null {
    return this.ex.breaker_encode(this.putKey(key)) > 0 ? this.outBytes() : null;
  }

  decode(key: string, bytes: Uint8Array): boolean {
    return this.ex.breaker_decode(this.putKey(key, bytes), bytes.length) === 1;
  }

  // The Envoy way: state bytes in (null = no shared data yet), bytes out.
  sharedAllow(bytes: Uint8Array | null, nowMs: number): { adm: Admission; bytes: Uint8Array } {
    const v = this.ex.breaker_shared_allow(this.putBytes(bytes), nowMs);
    const adm = admissionOf(v, this.ex.breaker_shared_generation(), -1);
    return { adm, bytes: this.outBytes() };
  }

  sharedRecord(bytes: Uint8Array, adm: Admission, o: Outcome, nowMs: number): { changed: boolean; bytes: Uint8Array } {
    const c = this.ex.breaker_shared_record(this.putBytes(bytes), adm.flags, adm.generation, o.status ?? 0, o.error ?? 0, o.latencyMs ?? 0, nowMs);
    return { changed: c === 1, bytes: this.outBytes() };
  }

  churn(key: string, n: number, nowMs: number, stepMs: number): number {
    return this.ex.breaker_churn(this.putKey(key), n, nowMs, stepMs);
  }

  // churn, returning the inner-loop steps it took (wasm/core/text/steps.ts)
  churnSteps(key: string, n: number, nowMs: number, stepMs: number): number {
    this.ex.breaker_work_steps_reset();
    this.churn(key, n, nowMs, stepMs);
    return this.ex.breaker_work_steps();
  }

  memoryBytes(): number { return this.ex.memory.buffer.byteLength; }
}
