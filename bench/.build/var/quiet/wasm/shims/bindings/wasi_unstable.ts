// Shim: the SDK imports proc_exit from the removed "bindings/wasi_unstable" module.
// Envoy registers proc_exit under both wasi_unstable and wasi_snapshot_preview1.
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit")
export declare function proc_exit(code: u32): void;
