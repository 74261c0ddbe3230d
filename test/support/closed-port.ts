// A loopback port nothing listens on (one just released): an upstream that refuses.
import net from "node:net";
import type { AddressInfo } from "node:net";

export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
