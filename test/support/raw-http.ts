// One raw HTTP/1.1 exchange on its own client connection (Connection: close): the
// whole answer as text, and every status line the client received (a gateway that
// answered twice shows two).
import net from "node:net";

export function rawRequest(port: number, lines: string[], body = ""): Promise<{ statusLines: string[]; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let text = "";
    sock.setEncoding("utf8");
    sock.on("data", (d) => (text += d));
    sock.on("error", reject);
    sock.on("close", () => resolve({ statusLines: text.match(/^HTTP\/1\.1 \d{3}.*$/gm) ?? [], text }));
    sock.write([...lines, "Connection: close", "", ""].join("\r\n") + body);
  });
}
