// tandem's filter-side context classes: the two a filter needs, without the SDK's
// per-call debug strings. A root context per plugin instance (configuration, shared
// settings); a stream context per HTTP stream (per-request state only).
export abstract class FilterRoot {
  constructor(public id: u32) {}
  // Return false to reject the configuration: Envoy keeps the previous one.
  abstract onConfigure(size: u32): bool;
  abstract newStream(id: u32): FilterStream;
  // The timer proxy_set_tick_period_milliseconds started (fault-injection's delays).
  onTick(): void {}
  // Envoy shuts this root down (proxy_on_done on the root context: its configuration was
  // removed or replaced, or the VM is going); the last callback with host calls allowed.
  onDone(): void {}
}

// Return values are proxy-wasm FilterHeadersStatus: 0 Continue, 1 StopIteration.
export const CONTINUE: u32 = 0;
export const STOP_ITERATION: u32 = 1;

export class FilterStream {
  constructor(public id: u32) {}
  onRequestHeaders(_headers: u32, _endOfStream: bool): u32 { return CONTINUE; }
  onResponseHeaders(_headers: u32, _endOfStream: bool): u32 { return CONTINUE; }
  // proxy_on_response_body: FilterDataStatus (0 Continue); `size` is the frame's bytes.
  onResponseBody(_size: u32, _endOfStream: bool): u32 { return CONTINUE; }
  onLog(): void {}
  onDone(): void {}
}
