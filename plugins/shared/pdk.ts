// The slice of Kong's PDK the tandem plugins call. Every call is one RPC round trip
// between Kong and the plugin server (~60-80 µs each, measured in bench/), so the
// handlers make as few as they can and never one per header.
export interface KongPDK {
  request: {
    getHeaders(max?: number): Promise<Record<string, string | string[]>>;
    getHeader(name: string): Promise<string | string[] | undefined | null>;
    getPathWithQuery(): Promise<string>;
    getMethod(): Promise<string>;
  };
  client: { getIp(): Promise<string> };
  service: {
    setUpstream(name: string): Promise<unknown>;
    request: {
      setHeader(name: string, value: string): Promise<unknown>;
      setHeaders(headers: Record<string, string>): Promise<unknown>;   // one RPC for several
      clearHeader(name: string): Promise<unknown>;
    };
  };
  response: {
    addHeader(name: string, value: string): Promise<unknown>;
    exit(status: number, body?: string | Record<string, unknown>, headers?: Record<string, string | string[]>): Promise<unknown>;
  };
  log: {
    err(...args: unknown[]): Promise<unknown>;
    warn(...args: unknown[]): Promise<unknown>;
    notice(...args: unknown[]): Promise<unknown>;
    serialize(): Promise<Record<string, unknown>>;
  };
}
