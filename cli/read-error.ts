// Why a file could not be read, for "<path>: cannot read: <why>" (policies, traces).
import { readFileSync } from "node:fs";
const WHY: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: "a directory, not a file",
  EACCES: "permission denied",
  ENOTDIR: "a path component is not a directory",
};

export function readErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== "string") return (e as Error)?.message ?? String(e);
  return WHY[code] ? `${code} (${WHY[code]})` : code;
}

// A text file's content, or why not: "cannot read: …" or, for bytes that are not
// UTF-8 text (a binary file, a NUL), "not a text file" with the first bytes escaped,
// so the message stays one short line instead of a screen of replacement characters.
const EXCERPT_BYTES = 16;

export function readTextFile(path: string, fail: (why: string) => Error): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw fail(`cannot read: ${readErrorText(e)}`);
  }
  let text: string | null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  if (text === null || text.includes("\0")) throw fail(`not a text file (a policy or trace is UTF-8 text), starts with "${escapedExcerpt(bytes)}"`);
  return text;
}

function escapedExcerpt(b: Buffer): string {
  let s = "";
  for (const c of b.subarray(0, EXCERPT_BYTES)) s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  return b.length > EXCERPT_BYTES ? s + "…" : s;
}
