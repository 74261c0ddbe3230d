// Creating render's --out directory. Node's mkdirSync(dir, { recursive: true }) loops
// forever at 100% CPU where the file system refuses a new entry with ENOENT although
// the parent exists (/proc/nope): it takes ENOENT as "make the parent first", again and
// again. One mkdir per missing component, top down, fails at once instead, with the
// system call's own error (main.ts prints it as one line, exit 1).
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

export function makeOutDir(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    try {
      statSync(p);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        mkdirSync(p);   // a file in the way (ENOTDIR), no access: mkdir says so, as the user asked for it
        throw e;
      }
      missing.push(p);
      const up = dirname(p);
      if (up === p) break;
      p = up;
    }
  }
  for (const m of missing.reverse()) mkdirSync(m);
}
