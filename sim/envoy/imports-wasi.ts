// WASI functions as proxy-wasm-cpp-host implements them (src/exports.cc wasi_unstable_*), shared
// by the "wasi_unstable" and "wasi_snapshot_preview1" modules. Only stdout/stderr exist:
// fd_write to fd 1 logs at info, fd 2 at error (trailing newline dropped), other fds are EBADF.
// proc_exit does NOT stop the module: Envoy's Context::error only logs it at trace level, so an
// AssemblyScript abort (abort_proc_exit → proc_exit(255)) continues into its `unreachable` and
// traps — which is what marks the VM failed.

import { randomFillSync } from 'node:crypto';
import { LogLevel, WasiErrno as E } from './abi-status.js';
import { msToNs } from './stream-info.js';
import type { WasmVm } from './vm.js';

export function createWasiImports(vm: WasmVm): Record<string, (...a: never[]) => unknown> {
  const mem = vm.mem;
  const started = process.hrtime.bigint();

  const writev = (fd: number, iovs: number, iovsLen: number): { errno: number; written: number } => {
    let level: number;
    if (fd === 1) level = LogLevel.info;
    else if (fd === 2) level = LogLevel.error;
    else return { errno: E.BADF, written: 0 };
    const parts: Buffer[] = [];
    for (let i = 0; i < iovsLen >>> 0; i++) {
      const iov = mem.get(iovs + i * 8, 8);
      if (iov === null) return { errno: E.FAULT, written: 0 };
      const len = iov.readUInt32LE(4);
      if (len !== 0) {
        const data = mem.get(iov.readUInt32LE(0), len);
        if (data === null) return { errno: E.FAULT, written: 0 };
        parts.push(data);
      }
    }
    let s = Buffer.concat(parts).toString('utf8');
    const written = parts.reduce((n, p) => n + p.length, 0);
    if (written !== 0) {
      if (s.endsWith('\n')) s = s.slice(0, -1);
      vm.log(level, s, vm.ctx().rootId);
    }
    return { errno: E.SUCCESS, written };
  };

  const wasi = {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
      const r = writev(fd, iovs, iovsLen);
      if (r.errno !== E.SUCCESS) return r.errno;
      return mem.setWord(nwrittenPtr, r.written) ? E.SUCCESS : E.FAULT;
    },
    fd_read(): number {
      return E.NOSYS;
    },
    fd_seek(_fd: number, _offset: bigint, _whence: number, _newOffsetPtr: number): number {
      vm.log(LogLevel.trace, 'wasi_unstable fd_seek');
      return E.SUCCESS;
    },
    fd_close(_fd: number): number {
      vm.log(LogLevel.trace, 'wasi_unstable fd_close');
      return E.SUCCESS;
    },
    fd_fdstat_get(fd: number, statPtr: number): number {
      if (fd !== 1 && fd !== 2) return E.BADF;
      const stat = Buffer.alloc(24);
      stat.writeBigUInt64LE(64n, 8); // fs_rights_base = __WASI_RIGHTS_FD_WRITE
      mem.set(statPtr, stat); // result not checked in cpp-host either
      return E.SUCCESS;
    },
    fd_fdstat_set_flags(): number {
      return E.NOSYS;
    },
    environ_get(environPtr: number, bufPtr: number): number {
      for (const [k, v] of Object.entries(vm.envs)) {
        if (!mem.setWord(environPtr, bufPtr)) return E.FAULT;
        const data = Buffer.from(`${k}=${v}\0`, 'utf8');
        if (!mem.set(bufPtr, data)) return E.FAULT;
        bufPtr += data.length;
        environPtr += 4;
      }
      return E.SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      const entries = Object.entries(vm.envs);
      if (!mem.setWord(countPtr, entries.length)) return E.FAULT;
      const size = entries.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0);
      return mem.setWord(sizePtr, size) ? E.SUCCESS : E.FAULT;
    },
    args_get(): number {
      return E.SUCCESS;
    },
    args_sizes_get(argcPtr: number, bufSizePtr: number): number {
      if (!mem.setWord(argcPtr, 0)) return E.FAULT;
      return mem.setWord(bufSizePtr, 0) ? E.SUCCESS : E.FAULT;
    },
    clock_time_get(id: number, _precision: bigint, resultPtr: number): number {
      let t: bigint;
      if (id === 0) t = msToNs(vm.clock());
      else if (id === 1) t = process.hrtime.bigint() - started;
      else return E.NOTSUP;
      return mem.setU64(resultPtr, t) ? E.SUCCESS : E.FAULT;
    },
    random_get(ptr: number, len: number): number {
      len >>>= 0;
      if (len > 64 * 1024) return E.INVAL;
      if (len === 0) return E.SUCCESS;
      const b = Buffer.alloc(len);
      randomFillSync(b);
      return mem.set(ptr, b) ? E.SUCCESS : E.FAULT;
    },
    sched_yield(): number {
      return E.SUCCESS;
    },
    poll_oneoff(_in: number, _out: number, _n: number, neventsPtr: number): number {
      return mem.setWord(neventsPtr, 0) ? E.SUCCESS : E.FAULT;
    },
    proc_exit(_code: number): void {
      vm.log(LogLevel.trace, 'wasi_unstable proc_exit');
    },
    path_open(): number {
      return E.NOENT;
    },
    fd_prestat_get(): number {
      return E.BADF;
    },
    fd_prestat_dir_name(): number {
      return E.NOSYS;
    },
  };
  return wasi as unknown as Record<string, (...a: never[]) => unknown>;
}
