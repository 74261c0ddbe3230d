// A wrong command line: main.ts prints the message and the usage, exit 2. Its own module
// so every command can throw it without importing main.ts.
export class UsageError extends Error {}

// Node's parseArgs rejects unknown options, missing option values and stray
// arguments with a TypeError carrying an ERR_PARSE_ARGS_* code: those are usage
// errors too. Their message, without Node's hint about positionals after `--`.
export function parseArgsProblem(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) return null;
  return (e as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, "");
}
