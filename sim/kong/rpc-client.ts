// Kong's side of the msgpack-RPC wire (mp_rpc.lua `Rpc:call`): one request,
// then read until the matching response; notifications ([2, label, args]) may
// arrive in between. The JS plugin server decodes exactly one message per socket
// chunk, so a connection never carries more than one outstanding call. Kong
// gets connections from the cosocket keepalive pool (lua_socket_pool_size 30,
// idle 60 s) and opens more when all are busy: RpcPool does the same.

import net from 'node:net';
import { Decoder, Encoder } from '@msgpack/msgpack';

// One encoder and one decoder for every connection: encode()/decode() build a new one per
// call (the encoder allocates its 2 KiB buffer each time), ≈ 15 times per proxied request
// with the playground's three plugins. Both are reentrancy-safe (a nested call clones).
const encoder = new Encoder();
const decoder = new Decoder();
const encode = (v: unknown) => encoder.encode(v);
const decode = (b: Uint8Array) => decoder.decode(b);

export class RpcError extends Error {
  constructor(
    message: string,
    /** true when the server answered with an error string (data[3] ~= nil) */
    readonly remote: boolean,
  ) {
    super(message);
  }
}

export type Notification = (label: string, args: unknown) => void;

// Reads go straight from the socket into one buffer (net's `onread`), not through the
// stream's 'data' events: the same bytes, without a Readable's push, nextTick and emit per
// chunk — ≈ 15 reads a proxied request with the playground's three plugins; ≈ 5 µs of CPU a
// round trip less in a unix-socket ping-pong (2026-12-07, 16 connections, 20,000 round
// trips, load 12: 24–30 µs through 'data', 20–21 with onread). One buffer serves every
// connection of the thread: the callback runs synchronously after each read, and what it
// keeps (a partial message, a decoded message's bin fields, which the decoder returns as
// views of its input) is copied out of it first (`chunk`, below).
const READ_BUFFER_BYTES = 64 * 1024;
let readBuffer: Buffer | null = null;

class RpcConnection {
  private buf: Buffer | null = null;
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void; msgId: number } | null = null;
  closed = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly onNotification: Notification,
  ) {
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('closed')));
  }

  static open(path: string, onNotification: Notification): Promise<RpcConnection> {
    return new Promise((resolve, reject) => {
      let conn: RpcConnection | null = null;
      readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
      const sock = net.createConnection({
        path,
        // a copy: decoded bin fields are views of it, and a partial message waits in it
        onread: { buffer: readBuffer, callback: (n: number, b: Uint8Array) => { conn?.onData(Buffer.from(b.subarray(0, n))); return true; } }, // true: keep reading
      });
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        conn = new RpcConnection(sock, onNotification);
        resolve(conn);
      });
      sock.once('error', reject);
    });
  }

  call(msgId: number, method: string, arg: unknown, timeoutMs: number): Promise<unknown> {
    if (this.pending) throw new Error('RpcConnection: a call is already outstanding');
    return new Promise((resolve, reject) => {
      this.pending = { msgId, resolve, reject };
      this.armTimer(timeoutMs);
      this.sock.write(encode([0, msgId, method, [arg]]));
    });
  }

  // lua_socket_read_timeout: the cosocket read fails with "timeout" timeoutMs after the
  // call. One timer per connection, restarted by each call (Timeout.refresh) instead of
  // a new timer per call (≈ 15 a request); it finds no call pending when it ends while
  // the connection is idle (unref'd: an idle connection keeps no process alive).
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  private armTimer(ms: number) {
    if (this.timer !== null && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => {
      if (this.pending) this.fail(new Error('timeout'));
    }, ms);
    this.timer.unref();
  }

  private onData(chunk: Buffer) {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf && this.buf.length > 0) {
      let msg: unknown;
      let used: number = this.buf.length;
      try {
        msg = decode(this.buf);
      } catch (e) {
        if (e instanceof RangeError && /Insufficient data/.test(e.message)) return; // wait for more
        const extra = e instanceof RangeError && /Extra (\d+) of (\d+) byte/.exec(e.message);
        if (!extra) return this.fail(e as Error);
        used = Number(extra[2]) - Number(extra[1]);
        msg = decode(this.buf.subarray(0, used));
      }
      this.buf = used < this.buf.length ? this.buf.subarray(used) : null;
      this.dispatch(msg);
    }
  }

  private dispatch(msg: unknown) {
    if (!Array.isArray(msg)) return this.fail(new Error('RPC: not an array'));
    if (msg[0] === 2) return this.onNotification(String(msg[1]), msg[2]);
    const p = this.pending;
    if (!p) return this.fail(new Error('RPC response without request'));
    // mp_rpc.lua asserts both of these; an assert failure is a Lua error.
    if (msg[0] !== 1) return this.fail(new Error('RPC response expected from Go plugin server'));
    if (msg[1] !== p.msgId) return this.fail(new Error('unexpected RPC response ID from Go plugin server'));
    this.pending = null;
    if (msg[2] !== null && msg[2] !== undefined) p.reject(new RpcError(String(msg[2]), true));
    else p.resolve(msg[3]);
  }

  private fail(e: Error) {
    const p = this.pending;
    this.pending = null;
    if (this.timer !== null) clearTimeout(this.timer);
    if (!this.closed) {
      this.closed = true;
      this.sock.destroy();
    }
    if (p) p.reject(new RpcError(e.message, false));
  }

  close() {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.sock.destroy();
  }
}

export interface RpcPoolOptions {
  /** idle connections kept (lua_socket_pool_size, default 30) */
  poolSize?: number;
  /** per-read timeout (lua_socket_read_timeout, default 60 s) */
  timeoutMs?: number;
  onNotification?: Notification;
}

export class RpcPool {
  private idle: RpcConnection[] = [];
  private msgId = 0;
  private open = 0;
  /** connections opened over the pool's life (for tests of pooling) */
  opened = 0;
  maxOpen = 0;
  private closed = false;

  constructor(
    readonly socketPath: string,
    private readonly opts: RpcPoolOptions = {},
  ) {}

  async call(method: string, arg: unknown): Promise<unknown> {
    if (this.closed) throw new RpcError('closed', false);
    const msgId = ++this.msgId;
    let conn = this.idle.pop();
    while (conn && conn.closed) conn = this.idle.pop();
    if (!conn) {
      try {
        conn = await RpcConnection.open(this.socketPath, this.opts.onNotification ?? (() => {}));
      } catch (e) {
        // Kong logs "trying to connect: <err>" and returns the error.
        const err = e as NodeJS.ErrnoException;
        throw new RpcError(connectErrorText(err), false);
      }
      this.opened++;
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
    }
    try {
      const res = await conn.call(msgId, method, arg, this.opts.timeoutMs ?? 60_000);
      this.release(conn);
      return res;
    } catch (e) {
      if (e instanceof RpcError && e.remote) this.release(conn);
      else this.drop(conn);
      throw e;
    }
  }

  private release(conn: RpcConnection) {
    if (this.closed || conn.closed || this.idle.length >= (this.opts.poolSize ?? 30)) return this.drop(conn);
    this.idle.push(conn);
  }

  private drop(conn: RpcConnection) {
    conn.close();
    this.open--;
  }

  /** Forget pooled connections (e.g. after the server restarted). */
  flush() {
    for (const c of this.idle.splice(0)) this.drop(c);
  }

  close() {
    this.closed = true;
    this.flush();
  }
}

// ngx.socket.connect error strings for the failures a unix socket can have: the errno's
// strerror, lowercased (ngx_http_lua_socket_tcp.c ngx_http_lua_socket_prepare_error_retvals).
// EAGAIN: the server's listen backlog is full (kong-pdk alone listens with Node's default,
// 511; tandem's start command with PLUGIN_SERVER_BACKLOG, capped at net.core.somaxconn);
// Linux refuses a unix-socket connect at once then, and nginx counts it as a failed
// connect (ngx_event_connect.c ngx_event_connect_peer), so Kong skips the plugin.
function connectErrorText(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'EAGAIN') return 'resource temporarily unavailable';
  return err.message;
}
