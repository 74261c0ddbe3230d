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
//
// Lifetime (include/proxy-wasm/vm_id_handle.h, src/vm_id_handle.cc, src/wasm.cc): a VM built
// from code — the base VM of a vm key (createWasm; Envoy's vm key is vm_id + vm configuration
// + code) — takes a VmIdHandle on its vm_id (WasmBase constructor, getVmIdHandle); its clones
// (worker VMs, canaries) hold the base, not a handle. When the vm_id's last handle goes
// (~VmIdHandle), the callbacks SharedData and SharedQueue registered run deleteByVmId: that
// vm_id's keys, values and queues are erased. Data written with no VM holding the vm_id (a
// test seeding the store) stays until a handle comes and goes.

import { WasmResult, type WasmResultCode } from './abi-status.js';

interface Entry {
  value: Buffer;
  cas: number;
}

/** A base VM's hold on its vm_id (cpp-host VmIdHandle); release() once, when the base goes. */
export interface VmIdHandle {
  readonly vmId: string;
  release(): void;
}

export class SharedData {
  private readonly data = new Map<string, Map<string, Entry>>();
  private casCounter = 1;
  // Live handles per vm_id (getVmIdHandle shares one per vm_id; counting holders is the same).
  private readonly holders = new Map<string, number>();

  /** getVmIdHandle: a base VM of `vmId` came up. */
  holdVmId(vmId: string): VmIdHandle {
    this.holders.set(vmId, (this.holders.get(vmId) ?? 0) + 1);
    let held = true;
    return {
      vmId,
      release: () => {
        if (!held) return;
        held = false;
        const n = (this.holders.get(vmId) ?? 1) - 1;
        if (n > 0) {
          this.holders.set(vmId, n);
          return;
        }
        this.holders.delete(vmId);
        this.deleteByVmId(vmId);
      },
    };
  }

  /** Base VMs holding `vmId` now. */
  holdersOf(vmId: string): number {
    return this.holders.get(vmId) ?? 0;
  }

  /** SharedData::deleteByVmId + SharedQueue::deleteByVmId (~VmIdHandle callbacks). */
  deleteByVmId(vmId: string): void {
    this.data.delete(vmId);
    this.queues.deleteByVmId(vmId);
  }

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

  /** SharedQueue::deleteByVmId: the vm_id's queues, their items and tokens go. */
  deleteByVmId(vmId: string): void {
    const prefix = `${vmId}\u0000`;
    for (const [key, token] of [...this.tokens]) {
      if (!key.startsWith(prefix)) continue;
      this.tokens.delete(key);
      this.queues.delete(token);
    }
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
