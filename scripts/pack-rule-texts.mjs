// Packs the core's validation rule texts as UTF-8 (issue 10: tandem.wasm size).
//
// AssemblyScript stores every string literal as UTF-16 behind a 20-byte object header,
// and binaryen gives most of them a data segment of their own (≈ 7 bytes of segment
// header each). The rule texts are ≈ 5,000 characters read only when a config is refused,
// so they live here once, as UTF-8 bytes in one static block, and are decoded when an
// error is reported.
//
// The texts are declared in the core's errors.ts files (RULE_FILES), one line each, the
// text as a JSON string in the line's comment:
//   export const E_OBJECT: Rule = 0x00000011; // "must be an object"
// This script rewrites the handles (offset << 8 | byte length) from those comments and
// writes the bytes to wasm/core/text/rule-bytes.ts.
//   node scripts/pack-rule-texts.mjs           rewrite
//   node scripts/pack-rule-texts.mjs --check   exit 1 if a file would change
// A line may also be written as `export const E_NEW = "text";`: the script turns it into
// the handle form.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const RULE_FILES = ["wasm/core/config/errors.ts", "wasm/core/fault/errors.ts", "wasm/core/json/errors.ts", "wasm/core/regex/errors.ts"];
export const BYTES_FILE = "wasm/core/text/rule-bytes.ts";
const MAX_LEN = 255;   // the handle's low byte

const HANDLE_LINE = /^export const (E_[A-Z0-9_]+): Rule = 0x[0-9a-f]{8}; \/\/ (".*")$/;
const LITERAL_LINE = /^export const (E_[A-Z0-9_]+) = (".*");$/;

// Returns { files: Map<path, text>, bytes: text } as they should be.
export function packRuleTexts() {
  const chunks = [];
  const offsets = new Map();   // text -> offset: a text declared twice is stored once
  let size = 0;
  const files = new Map();
  for (const file of RULE_FILES) {
    const lines = readFileSync(join(root, file), "utf8").split("\n");
    const out = lines.map((line) => {
      const m = HANDLE_LINE.exec(line) ?? LITERAL_LINE.exec(line);
      if (m === null) {
        if (/^export const E_/.test(line)) throw new Error(`${file}: unreadable rule line: ${line}`);
        return line;
      }
      const text = JSON.parse(m[2]);
      const utf8 = Buffer.from(text, "utf8");
      if (utf8.length === 0 || utf8.length > MAX_LEN) throw new Error(`${file}: ${m[1]} must be 1-${MAX_LEN} bytes of UTF-8`);
      let off = offsets.get(text);
      if (off === undefined) {
        off = size;
        offsets.set(text, off);
        chunks.push(utf8);
        size += utf8.length;
      }
      const handle = ((off << 8) | utf8.length) >>> 0;
      return `export const ${m[1]}: Rule = 0x${handle.toString(16).padStart(8, "0")}; // ${JSON.stringify(text)}`;
    });
    files.set(file, out.join("\n"));
  }
  if (size >= 1 << 24) throw new Error("rule texts exceed 16 MiB");
  const all = Buffer.concat(chunks);
  const rows = [];
  for (let i = 0; i < all.length; i += 24) rows.push("  " + [...all.subarray(i, i + 24)].join(", ") + ",");
  const bytes = [
    "// Written by scripts/pack-rule-texts.mjs from the rule texts in " + RULE_FILES.map((f) => f.replace("wasm/core/", "")).join(", ") + ":",
    "// do not edit. Their UTF-8 bytes, packed (" + all.length + " bytes); a Rule is offset << 8 | length into them.",
    "export type Rule = u32;",
    "",
    "const RULE_BYTES: usize = memory.data<u8>([",
    ...rows,
    "]);",
    "",
    "// Decoded only when a config is refused: one string allocated per reported error.",
    "export function ruleText(r: Rule): string {",
    "  return String.UTF8.decodeUnsafe(RULE_BYTES + <usize>(r >>> 8), <usize>(r & 0xff));",
    "}",
    "",
  ].join("\n");
  return { files, bytes };
}

function main() {
  const check = process.argv.includes("--check");
  const { files, bytes } = packRuleTexts();
  const want = new Map(files);
  want.set(BYTES_FILE, bytes);
  const stale = [];
  for (const [file, text] of want) {
    let have = null;
    try { have = readFileSync(join(root, file), "utf8"); } catch { /* absent */ }
    if (have === text) continue;
    stale.push(file);
    if (!check) writeFileSync(join(root, file), text);
  }
  if (check && stale.length > 0) {
    console.error(`pack-rule-texts: out of date: ${stale.join(", ")} (run node scripts/pack-rule-texts.mjs)`);
    process.exit(1);
  }
  if (!check) console.error(stale.length ? `pack-rule-texts: wrote ${stale.join(", ")}` : "pack-rule-texts: up to date");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
