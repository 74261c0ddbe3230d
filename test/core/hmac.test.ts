// SHA-256 and HMAC-SHA256 in the core (QA override tokens) against node:crypto, the
// FIPS 180-4 examples and the RFC 4231 HMAC test vectors.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BlocksCore } from "../support/blocks-core";

const core = BlocksCore.load();
const hex = (h: string) => Buffer.from(h, "hex");
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("SHA-256", () => {
  it("gives the FIPS 180-4 example digests", () => {
    expect(core.sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(core.sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(core.sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect(core.sha256Hex("a".repeat(1_000_000))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  it("matches node:crypto on every length 0..1000 and around block boundaries", () => {
    let n = 0;
    const lengths = [...Array(1001).keys(), 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 4095, 4096, 4097, 65_535];
    for (const len of lengths) {
      for (let k = 0; k < (len <= 130 ? 5 : 1); k++) {
        const m = randomBytes(len);
        expect(core.sha256Hex(m), `length ${len}`).toBe(sha(m));
        n++;
      }
    }
    expect(n).toBe(1584);
  });
});

describe("HMAC-SHA256", () => {
  // RFC 4231 section 4: [key, data, HMAC-SHA-256 (test case 5: first 128 bits)]
  const vectors: Array<[Buffer, Buffer, string]> = [
    [Buffer.alloc(20, 0x0b), Buffer.from("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
    [Buffer.from("Jefe"), Buffer.from("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
    [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"],
    [hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), Buffer.alloc(50, 0xcd), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"],
    [Buffer.alloc(20, 0x0c), Buffer.from("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"],
    [Buffer.alloc(131, 0xaa), Buffer.from("Test Using Larger Than Block-Size Key - Hash Key First"), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"],
    [Buffer.alloc(131, 0xaa), Buffer.from("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"],
  ];
  vectors.forEach(([key, data, want], i) => {
    it(`RFC 4231 test case ${i + 1}`, () => {
      const h = core.hmac(key);
      expect(core.hmacHex(h, data).slice(0, want.length)).toBe(want);
    });
  });

  it("matches node:crypto for random keys (0..200 bytes, over and under a block) and messages", () => {
    let n = 0;
    for (const keyLen of [0, 1, 16, 32, 63, 64, 65, 100, 128, 200]) {
      const key = randomBytes(keyLen);
      const h = core.hmac(key);
      for (const len of [0, 1, 7, 55, 56, 63, 64, 65, 119, 120, 128, 500, 1000]) {
        for (let k = 0; k < 10; k++) {
          const m = randomBytes(len);
          expect(core.hmacHex(h, m)).toBe(createHmac("sha256", key).update(m).digest("hex"));
          n++;
        }
      }
    }
    expect(n).toBe(1300);
  });

  it("keeps each key's precomputed state apart and reusable", () => {
    const a = core.hmac("a-secret-of-16-bytes!"), b = core.hmac("another-secret-of-16-bytes");
    for (let i = 0; i < 50; i++) {
      const m = `variant-${i}`;
      expect(core.hmacHex(a, m)).toBe(createHmac("sha256", "a-secret-of-16-bytes!").update(m).digest("hex"));
      expect(core.hmacHex(b, m)).toBe(createHmac("sha256", "another-secret-of-16-bytes").update(m).digest("hex"));
    }
  });
});

describe("QA override token check", () => {
  const secret = "qa-override-secret-0123456789";
  const h = core.hmac(secret);
  const mac = (v: string) => createHmac("sha256", secret).update(v).digest("hex");

  it("accepts exactly the lowercase hex HMAC of the variant", () => {
    expect(core.hmacVerify(h, "canary", mac("canary"))).toBe(true);
    expect(core.hmacVerify(h, "stable", mac("stable"))).toBe(true);
    expect(core.hmacVerify(h, "日本", mac("日本"))).toBe(true);
  });

  it("rejects every other token", () => {
    const good = mac("canary");
    expect(core.hmacVerify(h, "stable", good)).toBe(false);                     // another variant's token
    expect(core.hmacVerify(h, "canary", good.toUpperCase())).toBe(false);       // hex must be lowercase
    expect(core.hmacVerify(h, "canary", good.slice(0, 63))).toBe(false);
    expect(core.hmacVerify(h, "canary", good + "0")).toBe(false);
    expect(core.hmacVerify(h, "canary", "")).toBe(false);
    expect(core.hmacVerify(h, "canary", createHmac("sha256", "another-secret-xyz").update("canary").digest("hex"))).toBe(false);
    for (let i = 0; i < 64; i++) {
      const c = good[i] === "0" ? "1" : "0";
      expect(core.hmacVerify(h, "canary", good.slice(0, i) + c + good.slice(i + 1)), `digit ${i}`).toBe(false);
    }
  });

  it("compares in constant time over equal lengths", () => {
    expect(core.ctEqual("abcdef", "abcdef")).toBe(true);
    expect(core.ctEqual("abcdef", "abcdeF")).toBe(false);
    expect(core.ctEqual("xbcdef", "abcdef")).toBe(false);
    expect(core.ctEqual("", "")).toBe(true);
  });
});

describe("SHA-256 / HMAC: no allocation per call", () => {
  it("runs 50,000 MACs and checks without growing memory", () => {
    const stub = BlocksCore.load(["--runtime", "stub"]);
    const h = stub.hmac("qa-override-secret-0123456789");
    const token = createHmac("sha256", "qa-override-secret-0123456789").update("canary").digest("hex");
    stub.hmacVerify(h, "canary", token);
    const before = stub.memoryBytes();
    for (let i = 0; i < 25_000; i++) {
      expect(stub.hmacVerify(h, "canary", token)).toBe(true);
      stub.sha256Hex("x".repeat(i % 200));
    }
    expect(stub.memoryBytes()).toBe(before);
  });
});
