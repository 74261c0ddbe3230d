// Process-wide key/value store keyed by vm_id, with Envoy's compare-and-swap semantics
// (proxy-wasm-cpp-host src/shared_data.cc / shared_data.h):
// - get returns the value and its cas, NotFound when absent;
// - set with cas 0 is unconditional; a non-zero cas that differs from the stored one yields
//   CasMismatch; every successful set stores a fresh cas from ONE global counter (never 0);
// - a set on an absent key always succeeds, whatever cas was passed.
// Every VM with the same vm_id sees the same map (Istio leaves vm_id empty, so all plugins on a
// proxy share it). Envoy guards each operation with a mutex; Node runs VMs on one thread, so each
// operation is atomic here too and interleaving happens only between VM calls.
//
// Shared queues (src/shared_queue.cc) live here as well: a queue is registered per
// (vm_id, name); re-registering keeps pending items and moves the on_queue_ready target to the
// new registrant; enqueue posts on_queue_ready to the owner asynchronously (dispatcher.post).

import { WasmResult, type WasmResultCode } from './abi-status.js';

interface Entry {
  value: Buffer;
  cas: number;
}

export class SharedData {
  private readonly data = new Map<string, Map<string, Entry>>();
  private casCounter = 1;

  private nextCas(): number {
    const r = this.casCounter;
    this.casCounter = (this.casCounter + 1) >>> 0;
    if (this.casCounter === 0) this.casCounter = 1; // 0 is not a valid CAS value.
    return r;
  }

  get(vmId: string, key: string): { value: Buffer; cas: number } | undefined {
    return this.data.get(vmId)?.get(key);
  }

  set(vmId: string, key: string, value: Uint8Array, cas: number): WasmResultCode {
    let map = this.data.get(vmId);
    if (!map) {
      map = new Map();
      this.data.set(vmId, map);
    }
    const cur = map.get(key);
    if (cur && cas !== 0 && cas !== cur.cas) return WasmResult.CasMismatch;
    map.set(key, { value: Buffer.from(value), cas: this.nextCas() });
    return WasmResult.Ok;
  }

  remove(vmId: string, key: string, cas = 0): WasmResultCode {
    const map = this.data.get(vmId);
    const cur = map?.get(key);
    if (!map || !cur) return WasmResult.NotFound;
    if (cas !== 0 && cas !== cur.cas) return WasmResult.CasMismatch;
    map.delete(key);
    return WasmResult.Ok;
  }

  keys(vmId: string): string[] {
    return [...(this.data.get(vmId)?.keys() ?? [])];
  }

  /** Convenience for tests: value as a UTF-8 string. */
  getString(vmId: string, key: string): string | undefined {
    return this.get(vmId, key)?.value.toString('utf8');
  }

  readonly queues = new SharedQueues();
}

export interface QueueOwner {
  /** Called asynchronously after an enqueue, like Envoy's dispatcher.post(onQueueReady). */
  onQueueReady(contextId: number, token: number): void;
}

interface Queue {
  items: Buffer[];
  owner: QueueOwner;
  contextId: number;
}

export class SharedQueues {
  private readonly tokens = new Map<string, number>();
  private readonly queues = new Map<number, Queue>();
  private next = 1;

  register(vmId: string, name: string, owner: QueueOwner, contextId: number): number {
    const key = `${vmId}\u0000${name}`;
    let token = this.tokens.get(key);
    if (token === undefined) {
      while (this.next === 0 || this.queues.has(this.next)) this.next = (this.next + 1) >>> 0;
      token = this.next++;
      this.tokens.set(key, token);
    }
    const q = this.queues.get(token);
    if (q) {
      q.owner = owner;
      q.contextId = contextId;
    } else {
      this.queues.set(token, { items: [], owner, contextId });
    }
    return token;
  }

  resolve(vmId: string, name: string): number {
    return this.tokens.get(`${vmId}\u0000${name}`) ?? 0;
  }

  enqueue(token: number, data: Uint8Array): WasmResultCode {
    const q = this.queues.get(token);
    if (!q) return WasmResult.NotFound;
    q.items.push(Buffer.from(data));
    const { owner, contextId } = q;
    setImmediate(() => owner.onQueueReady(contextId, token));
    return WasmResult.Ok;
  }

  dequeue(token: number): { result: WasmResultCode; data?: Buffer } {
    const q = this.queues.get(token);
    if (!q) return { result: WasmResult.NotFound };
    const d = q.items.shift();
    if (!d) return { result: WasmResult.Empty };
    return { result: WasmResult.Ok, data: d };
  }
}

/** The store WasmHost.load uses when none is passed: one per Node process, like Envoy's. */
export const processSharedData = new SharedData();
