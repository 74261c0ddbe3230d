// An HTTP/2 call as a gRPC client makes it (cleartext, prior knowledge), for the simulator
// tests: the response head, whether its HEADERS frame ended the stream (a trailers-only
// reply), the trailers and the body.
import http2 from 'node:http2';

export interface H2Answer {
  headers: http2.IncomingHttpHeaders;
  /** the response HEADERS frame ended the stream (a trailers-only reply) */
  headersEndStream: boolean;
  trailers: http2.IncomingHttpHeaders | null;
  body: Buffer;
}

/** `body` null: a GET with END_STREAM on its HEADERS; else a POST with that body (default one empty gRPC message). */
export function h2call(port: number, path: string, headers: Record<string, string> = {}, body: Buffer | null = Buffer.from([0, 0, 0, 0, 0])): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const req = client.request({ ':method': body ? 'POST' : 'GET', ':path': path, ...headers }, { endStream: body === null });
    let head: http2.IncomingHttpHeaders = {};
    let endStream = false;
    let trailers: http2.IncomingHttpHeaders | null = null;
    const parts: Buffer[] = [];
    req.on('response', (h, flags) => { head = h; endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => { client.close(); resolve({ headers: head, headersEndStream: endStream, trailers, body: Buffer.concat(parts) }); });
    req.on('error', (e) => { client.close(); reject(e); });
    if (body) req.end(body);
  });
}

/** A gRPC server's answer on `stream`, the simulator tests' upstream: for '/trailers-only'
 * one HEADERS frame with END_STREAM (grpc-status 5, NOT_FOUND); else the head, one
 * message, then trailers with grpc-status 13 (INTERNAL). */
export function answerGrpc(stream: http2.ServerHttp2Stream, path: string | undefined): void {
  if (path === '/trailers-only') {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no such cart' }, { endStream: true });
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '13', 'grpc-message': 'boom' }));
  stream.end(Buffer.from([0, 0, 0, 0, 1, 0x2a]));
}
