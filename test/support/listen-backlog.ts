// How many connections of a burst the kernel establishes while the harness's thread
// accepts none: what a listen backlog decides. Shared by the Kong and Envoy backlog tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

/** net.core.somaxconn: the kernel caps every listen backlog at it. */
export const somaxconn = (): number => Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

// Block this thread (nothing accepted, nothing read) until `file` holds a result.
function blockUntil(file: string, timeoutMs: number): string {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      if (text.endsWith('\n')) return text.trim();
    }
    Atomics.wait(cell, 0, 0, 20);
  }
  throw new Error(`no result in ${file} after ${timeoutMs} ms`);
}

/**
 * Connections of a burst of `burst` to 127.0.0.1:`port` established within 800 ms (a SYN
 * the kernel dropped is retried after 1 s at the earliest), opened by a child process
 * while this thread, the harness's, blocks and accepts none.
 */
export function connectedWhileBlocked(port: number, burst: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-backlog-'));
  const out = path.join(dir, 'connected');
  const child = spawn(process.execPath, ['-e', `
    const net = require('net'); const fs = require('fs');
    let connected = 0; const socks = [];
    for (let i = 0; i < ${burst}; i++) {
      const s = net.connect(${port}, '127.0.0.1', () => connected++);
      s.on('error', () => {}); socks.push(s);
    }
    setTimeout(() => { fs.writeFileSync(${JSON.stringify(out)}, connected + '\\n'); for (const s of socks) s.destroy(); process.exit(0); }, 800);
  `], { stdio: 'ignore' });
  try {
    return Number(blockUntil(out, 30_000));
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
