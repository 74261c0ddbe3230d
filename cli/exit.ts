// How every command ends: on a normal end, an error, a closed stdout (EPIPE: `| head`),
// SIGINT or SIGTERM the process exits through process.exit, whose 'exit' event ends
// the plugin servers the Kong harness spawned and removes their socket folders
// (sim/kong/plugin-server.ts, endAllPluginServers). Without this a closed pipe printed
// Node's "Unhandled 'error' event" stack and left both kong-js-pluginserver processes
// running with parent 1 and /tmp/tandem-kong-* behind.

// Exit codes after a signal: 128 + its number, as shells report them.
const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

// Async work to do before exiting on a signal (the playground closes its servers):
// bounded, so a stuck close cannot keep a Ctrl-C from ending the process.
const CLOSE_WAIT_MS = 3000;
const closers = new Set<() => Promise<unknown>>();
let signalCode: number | null = null;

export function closeOnSignal(close: () => Promise<unknown>): () => void {
  closers.add(close);
  return () => closers.delete(close);
}

// The playground ends on Ctrl-C by design: exit 0, not 130.
export function interruptIsNormal(): void {
  signalCode = 0;
}

let ending = false;

// True once a signal is being handled: the command's own end (its result, or the error
// its interrupted work raises while the closers run: a start-up request whose gateway
// just closed, "socket hang up") is not reported; endOn exits with the signal's code.
export function endingOnSignal(): boolean {
  return ending;
}

async function endOn(code: number): Promise<never> {
  // A second signal while closing: stop waiting.
  if (ending) process.exit(code);
  ending = true;
  const wait = new Promise((ok) => setTimeout(ok, CLOSE_WAIT_MS).unref());
  await Promise.race([Promise.allSettled([...closers].map((c) => c())), wait]);
  process.exit(code);
}

// Exits with `code` once stdout and stderr have handed the OS everything written to
// them. Node writes to a pipe asynchronously on POSIX (files and terminals synchronously):
// when the reader is slower than the command (a loaded machine, `| less`), lines wait in
// the process, and process.exit drops them. A zero-length write's callback runs after
// every earlier write on its stream has gone out. A reader that went away makes the
// stream fail (EPIPE): the 'error' handler below ends the process then.
export function exitFlushed(code: number): void {
  let left = 2;
  const done = () => { if (--left === 0) process.exit(code); };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

export function installExitHandlers(): void {
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void endOn(signalCode ?? SIGNAL_EXIT[sig]));
  // A reader that went away (`| head -1`) is not an error of ours: stop quietly, exit 0.
  // Any other stdout failure is one line on stderr, exit 1.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    process.stderr.write(`tandem: cannot write to stdout: ${e.code ?? e.message}\n`);
    process.exit(1);
  });
}
