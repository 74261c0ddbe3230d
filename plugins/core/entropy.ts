// Per-request entropy for new sticky ids. The core never reads a random source; the
// adapter passes 16 random bytes as hex. Drawn from a pool refilled in 4 KiB chunks,
// so a request costs a slice, not a syscall.
import { randomFillSync } from "node:crypto";

const POOL = Buffer.alloc(4096);
let pos = POOL.length;

export function entropyHex(): string {
  if (pos + 16 > POOL.length) { randomFillSync(POOL); pos = 0; }
  const s = POOL.toString("hex", pos, pos + 16);
  pos += 16;
  return s;
}
