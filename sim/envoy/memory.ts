// Access to a VM's linear memory with the exact bounds rules of Envoy's V8 integration
// (proxy-wasm-cpp-host src/v8/v8.cc V8::getMemory / setMemory / getWord / setWord): any range
// that does not fit in the current memory is refused, which the host functions turn into
// WasmResult::InvalidMemoryAccess (or WASI EFAULT). Host-returned data is allocated with the
// module's own malloc (include/proxy-wasm/wasm.h WasmBase::allocMemory), like Envoy does.

export class VmMemory {
  memory!: WebAssembly.Memory;
  private buf: Buffer = Buffer.alloc(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private ab: ArrayBuffer | null = null;

  attach(memory: WebAssembly.Memory): void {
    this.memory = memory;
    this.refresh();
  }

  /** Views must be rebuilt after memory.grow (the old ArrayBuffer is detached). */
  private refresh(): void {
    const ab = this.memory.buffer as ArrayBuffer;
    this.ab = ab;
    this.buf = Buffer.from(ab);
    this.dv = new DataView(ab);
  }

  // memory.grow detaches the previous ArrayBuffer (byteLength becomes 0), which is cheaper to
  // test than reading the memory.buffer getter on every host call.
  bytes(): Buffer {
    if (this.ab!.byteLength === 0) this.refresh();
    return this.buf;
  }

  private view(): DataView {
    if (this.ab!.byteLength === 0) this.refresh();
    return this.dv;
  }

  get size(): number {
    return this.memory.buffer.byteLength;
  }

  get pages(): number {
    return this.memory.buffer.byteLength / 65536;
  }

  /** True when [ptr, ptr+size) lies inside memory. ptr/size arrive as i32 and are reinterpreted as u32. */
  inRange(ptr: number, size: number): boolean {
    return (ptr >>> 0) + (size >>> 0) <= this.bytes().length;
  }

  /** Copy of the range, or null when out of bounds. */
  get(ptr: number, size: number): Buffer | null {
    ptr >>>= 0;
    size >>>= 0;
    const b = this.bytes();
    if (ptr + size > b.length) return null;
    return Buffer.from(b.subarray(ptr, ptr + size));
  }

  /** Zero-copy view (valid until the next call into the VM). */
  view8(ptr: number, size: number): Buffer | null {
    ptr >>>= 0;
    size >>>= 0;
    const b = this.bytes();
    if (ptr + size > b.length) return null;
    return b.subarray(ptr, ptr + size);
  }

  /** Bytes as a byte-preserving string (HTTP header semantics), or null when out of bounds. */
  latin1(ptr: number, size: number): string | null {
    ptr >>>= 0;
    size >>>= 0;
    const b = this.bytes();
    if (ptr + size > b.length) return null;
    return b.toString('latin1', ptr, ptr + size);
  }

  /**
   * latin1() for a name a module passes by pointer (a header key): up to 32 bytes decoded in
   * JS, byte for byte as latin1 (Envoy reads the key as a string_view of the module's memory;
   * a Buffer toString is a call into C++ that costs more than the lookup it serves).
   */
  name(ptr: number, size: number): string | null {
    ptr >>>= 0;
    size >>>= 0;
    const b = this.bytes();
    if (ptr + size > b.length) return null;
    if (size > 32) return b.toString('latin1', ptr, ptr + size);
    let s = '';
    for (let i = ptr, stop = ptr + size; i < stop; i++) s += String.fromCharCode(b[i]);
    return s;
  }

  utf8(ptr: number, size: number): string | null {
    ptr >>>= 0;
    size >>>= 0;
    const b = this.bytes();
    if (ptr + size > b.length) return null;
    return b.toString('utf8', ptr, ptr + size);
  }

  setWord(ptr: number, value: number): boolean {
    ptr >>>= 0;
    const dv = this.view();
    if (ptr + 4 > dv.byteLength) return false;
    dv.setUint32(ptr, value >>> 0, true);
    return true;
  }

  setU64(ptr: number, value: bigint): boolean {
    ptr >>>= 0;
    const dv = this.view();
    if (ptr + 8 > dv.byteLength) return false;
    dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  /** A u64 given as its low and high 32-bit words (each taken mod 2^32), or nothing when out of bounds. */
  setU64Words(ptr: number, lo: number, hi: number): boolean {
    ptr >>>= 0;
    const dv = this.view();
    if (ptr + 8 > dv.byteLength) return false;
    dv.setUint32(ptr, lo >>> 0, true);
    dv.setUint32(ptr + 4, hi >>> 0, true);
    return true;
  }

  set(ptr: number, data: Uint8Array): boolean {
    ptr >>>= 0;
    const b = this.bytes();
    if (ptr + data.length > b.length) return false;
    b.set(data, ptr);
    return true;
  }

  getU32(ptr: number): number | null {
    ptr >>>= 0;
    const dv = this.view();
    if (ptr + 4 > dv.byteLength) return null;
    return dv.getUint32(ptr, true);
  }
}
