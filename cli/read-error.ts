// Why a file could not be read, for "<path>: cannot read: <why>" (policies, traces).
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
