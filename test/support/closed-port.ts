// A loopback port nothing listens on: an upstream that refuses. A port below 1024, which
// neither listen(0) nor a client's ephemeral port ever takes, so a test running beside
// this one cannot start listening on it (a just-released ephemeral port could be handed
// to another test's server: seen once in CI, the "refused" cluster answered 418).
// The first candidate that refuses a connect now is returned.
import net from "node:net";

const CANDIDATES = [9, 13, 37, 47, 79, 101, 113, 119];

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => { s.destroy(); resolve(false); });
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

export async function closedPort(): Promise<number> {
  for (const p of CANDIDATES) if (await refuses(p)) return p;
  throw new Error(`closedPort: none of ${CANDIDATES.join(", ")} refuses connections here`);
}
