// Node loader for the policy core (tandem-core.wasm): the same AssemblyScript core the
// Envoy filter links, compiled as a standalone module. This file only moves bytes:
// UTF-8 in through the core's arena, decisions and error text out.
import { readFileSync } from "node:fs";

// Mirrors wasm/core/facts.ts `Fact`.
export const enum FactKind { Header = 0, Path = 1, Host = 2, Method = 3, ClientIp = 4, Entropy = 5 }

export interface Need { kind: FactKind; name: string }
export interface VariantInfo { name: string; upstream: string | null }
export interface ExperimentPlan {
  handle: number;
  variantHeader: string;
  cookie: string | null;       // name of the sticky cookie tandem issues, if any
  variants: VariantInfo[];
  needs: Need[];
}
export interface ExperimentDecision {
  variant: number;            // -1: out of the experiment's scope
  setCookie: string | null;
}

interface CoreExports {
  memory: WebAssembly.Memory;
  _initialize?: () => void;
  tandem_arena(size: number): number;
  tandem_out_ptr(): number;
  tandem_out_len(): number;
  tandem_validate_policy(len: number): number;
  tandem_breaker_configure(len: number): number;
  tandem_experiment_configure(len: number): number;
  tandem_release(h: number): void;
  tandem_fact_table(h: number): number;
  tandem_experiment_decide(h: number, nowMs: number): number;
  tandem_experiment_bucket(h: number): number;
}

export class CoreError extends Error {}

export class TandemCore {
  private readonly ex: CoreExports;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  private u8 = new Uint8Array(0);

  private constructor(instance: WebAssembly.Instance) {
    this.ex = instance.exports as unknown as CoreExports;
    this.ex._initialize?.();
  }

  static fromBytes(bytes: Uint8Array): TandemCore {
    const mod = new WebAssembly.Module(bytes);
    const inst = new WebAssembly.Instance(mod, {
      env: {
        abort(_msg: number, _file: number, line: number, col: number): void {
          throw new CoreError(`tandem core aborted at ${line}:${col}`);
        },
      },
    });
    return new TandemCore(inst);
  }

  static fromFile(path: string): TandemCore {
    return TandemCore.fromBytes(readFileSync(path));
  }

  private bytes(): Uint8Array {
    if (this.u8.buffer !== this.ex.memory.buffer) this.u8 = new Uint8Array(this.ex.memory.buffer);
    return this.u8;
  }

  // Writes `text` at the arena start; returns its UTF-8 length.
  private put(text: string): number {
    const ptr = this.ex.tandem_arena(text.length * 3 + 16);
    return this.enc.encodeInto(text, this.bytes().subarray(ptr)).written;
  }

  private out(): string {
    const p = this.ex.tandem_out_ptr();
    const n = this.ex.tandem_out_len();
    return n === 0 ? "" : this.dec.decode(this.bytes().subarray(p, p + n));
  }

  // null when valid, else the core's error text.
  validatePolicy(json: string): string | null {
    return this.ex.tandem_validate_policy(this.put(json)) === 1 ? null : this.out();
  }

  validateBreaker(json: string): string | null {
    return this.ex.tandem_breaker_configure(this.put(json)) === 1 ? null : this.out();
  }

  configureExperiment(json: string): ExperimentPlan {
    const h = this.ex.tandem_experiment_configure(this.put(json));
    if (h < 0) throw new CoreError(this.out());
    const desc = JSON.parse(this.out()) as Omit<ExperimentPlan, "handle">;
    return { handle: h, ...desc };
  }

  release(plan: ExperimentPlan): void {
    this.ex.tandem_release(plan.handle);
  }

  // `facts[i]` answers plan.needs[i] (undefined = absent).
  decideExperiment(plan: ExperimentPlan, facts: ReadonlyArray<string | undefined>, nowMs: number): ExperimentDecision {
    let size = 16;
    for (const f of facts) if (f !== undefined) size += f.length * 3;
    const base = this.ex.tandem_arena(size);
    const tablePtr = this.ex.tandem_fact_table(plan.handle);
    const mem = this.bytes();
    const table = new Int32Array(mem.buffer, tablePtr, facts.length * 2);
    let off = 0;
    for (let i = 0; i < facts.length; i++) {
      const f = facts[i];
      if (f === undefined) { table[2 * i] = 0; table[2 * i + 1] = -1; continue; }
      const n = this.enc.encodeInto(f, mem.subarray(base + off)).written;
      table[2 * i] = off;
      table[2 * i + 1] = n;
      off += n;
    }
    const variant = this.ex.tandem_experiment_decide(plan.handle, nowMs);
    const cookie = this.out();
    return { variant, setCookie: cookie.length > 0 ? cookie : null };
  }

  lastBucket(plan: ExperimentPlan): number {
    return this.ex.tandem_experiment_bucket(plan.handle);
  }
}
