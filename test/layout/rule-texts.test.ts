// The core's rule texts are declared once, in the comments of its errors.ts files, and
// stored as packed UTF-8 (scripts/pack-rule-texts.mjs; issue 10, tandem.wasm size). The
// handles and text/rule-bytes.ts are written from those comments: this fails when a text,
// a handle or the bytes changed alone.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script, no type declarations
import { BYTES_FILE, RULE_FILES, packRuleTexts } from "../../scripts/pack-rule-texts.mjs";

const root = resolve(__dirname, "..", "..");
const read = (f: string): string => readFileSync(join(root, f), "utf8");

// The bytes as rule-bytes.ts holds them, and every declared line's handle and text.
function declared(): { bytes: Buffer; rules: { name: string; handle: number; text: string }[] } {
  const list = /memory\.data<u8>\(\[([\s\S]*?)\]\)/.exec(read(BYTES_FILE));
  if (list === null) throw new Error(`${BYTES_FILE}: no memory.data block`);
  const bytes = Buffer.from(list[1].split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number));
  const rules = [];
  for (const file of RULE_FILES as string[]) {
    for (const m of read(file).matchAll(/^export const (E_\w+): Rule = 0x([0-9a-f]{8}); \/\/ (".*")$/gm)) {
      rules.push({ name: m[1], handle: parseInt(m[2], 16), text: JSON.parse(m[3]) as string });
    }
  }
  return { bytes, rules };
}

describe("packed rule texts", () => {
  it("every handle decodes to the text written beside it", () => {
    const { bytes, rules } = declared();
    expect(rules.length).toBeGreaterThan(100);
    for (const r of rules) {
      const text = bytes.subarray(r.handle >>> 8, (r.handle >>> 8) + (r.handle & 0xff)).toString("utf8");
      expect(text, r.name).toBe(r.text);
    }
  });

  it("the files are what the packer writes from the texts (none edited alone)", () => {
    const { files, bytes } = packRuleTexts() as { files: Map<string, string>; bytes: string };
    for (const [file, text] of files) expect(read(file), file).toBe(text);
    expect(read(BYTES_FILE)).toBe(bytes);
  });

  it("every errors.ts line is in the packed form: no rule text is a UTF-16 literal", () => {
    for (const file of RULE_FILES as string[]) {
      const plain = read(file).split("\n").filter((l) => /^export const E_\w+ = "/.test(l));
      expect(plain, file).toEqual([]);
    }
  });
});
