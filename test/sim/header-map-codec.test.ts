// HeaderMap.encoded: a request map as Envoy's codec hands it to the filters, its pairs
// serialization made once (sim/envoy/header-map.ts). The harness copies those
// bytes for proxy_get_header_map_pairs, so they must equal a fresh serialization of the
// map, and any change to a map must drop them (a stale copy would show a filter headers
// that are no longer there). Clones share the bytes; changing one leaves the other's.
import { describe, expect, it } from "vitest";
import { encodePairs, type Pair } from "../../sim/envoy";
import { HeaderMap } from "../../sim/envoy/header-map";

const REQUEST: Pair[] = [
  ["X-Forwarded-For", "10.0.0.1"],
  [":path", "/cart?x=1"],               // pseudo-headers move in front
  [":method", "GET"],
  ["x-forwarded-for", "10.0.0.2"],      // inline: merged into the first with ","
  ["Cookie", "a=1"],
  ["cookie", "b=2"],                    // not inline: a second entry
  ["user-agent", "Mozilla/5.0 caf\u00e9"],
];

describe("HeaderMap.encoded: the codec's bytes", () => {
  it("are the pairs serialization of the map the codec built", () => {
    const m = HeaderMap.encoded(REQUEST, "request");
    expect(m.pairs()).toEqual(HeaderMap.fromPairs(REQUEST, "request").pairs());
    expect(m.pairs().map(([k]) => k)).toEqual([":path", ":method", "x-forwarded-for", "cookie", "cookie", "user-agent"]);
    expect(m.encodedPairs!.equals(encodePairs(m.pairs()))).toBe(true);
    // a map built from pairs at stream time has none: the lists are serialized per call
    expect(HeaderMap.fromPairs(REQUEST, "request").encodedPairs).toBeNull();
  });

  it("are dropped by every change, and kept by a change that changes nothing", () => {
    const changes: Array<[string, (m: HeaderMap) => void, boolean]> = [
      ["add a new header", (m) => m.add("x-tandem-variant", "canary"), true],
      ["add to an inline header", (m) => m.add("x-forwarded-for", "10.0.0.3"), true],
      ["add a pseudo-header", (m) => m.add(":authority", "shop"), true],
      ["setCopy an existing header", (m) => m.setCopy("cookie", "c=3"), true],
      ["setCopy a new header", (m) => m.setCopy("x-new", "1"), true],
      ["remove a present header", (m) => m.remove("Cookie"), true],
      ["remove an absent header", (m) => m.remove("x-absent"), false],
      ["clear", (m) => m.clear(), true],
    ];
    const codec = HeaderMap.encoded(REQUEST, "request");
    const original = Buffer.from(codec.encodedPairs!);
    for (const [what, change, drops] of changes) {
      const m = codec.clone();
      expect(m.encodedPairs, what).toBe(codec.encodedPairs);   // shared, not copied
      change(m);
      if (drops) expect(m.encodedPairs, what).toBeNull();
      else expect(m.encodedPairs!.equals(encodePairs(m.pairs())), what).toBe(true);
      // the codec's map and its bytes are untouched by a clone's change
      expect(codec.pairs(), what).toEqual(HeaderMap.fromPairs(REQUEST, "request").pairs());
      expect(codec.encodedPairs!.equals(original), what).toBe(true);
    }
  });

  it("keeps the inline-header rules in clones", () => {
    const m = HeaderMap.encoded(REQUEST, "request").clone();
    m.add("x-forwarded-for", "10.0.0.9");
    expect(m.get("x-forwarded-for")).toBe("10.0.0.1,10.0.0.2,10.0.0.9");
  });
});

describe("HeaderMap.setCopy: Envoy's replace (proxy_replace_header_map_value)", () => {
  // HeaderMapImpl::setCopy (source/common/http/header_map_impl.cc) is remove(key) then
  // addCopy(key, value): every copy goes, one is added where addCopy puts a new entry.
  it("removes every copy of a regular header and adds one after the others", () => {
    const m = HeaderMap.fromPairs(REQUEST, "request");
    m.setCopy("Cookie", "c=3");
    expect(m.pairs().filter(([k]) => k === "cookie")).toEqual([["cookie", "c=3"]]);
    expect(m.pairs().map(([k]) => k)).toEqual([":path", ":method", "x-forwarded-for", "user-agent", "cookie"]);
  });

  it("keeps a pseudo-header among the pseudo-headers", () => {
    const m = HeaderMap.fromPairs(REQUEST, "request");
    m.setCopy(":path", "/other");
    expect(m.pairs().map(([k]) => k).slice(0, 2)).toEqual([":method", ":path"]);
    expect(m.get(":path")).toBe("/other");
  });

  it("setInline (Envoy's inline setters: setContentLength, setStatus) changes the entry in place", () => {
    const m = HeaderMap.fromPairs([["content-length", "1"], ["x-a", "1"]], "response");
    m.setInline("content-length", "2");
    expect(m.pairs()).toEqual([["content-length", "2"], ["x-a", "1"]]);
  });
});

// Envoy's HeaderMapImpl::insertByKey merges a repeated inline header through
// appendToHeader (source/common/http/header_map_impl.cc): an empty new value is dropped,
// and no "," goes after an empty first value. A request `user-agent:` then
// `user-agent: Bot` therefore reaches the filters as one entry "Bot".
describe("HeaderMap: repeated inline headers (HeaderMapImpl::appendToHeader)", () => {
  it("drops an empty later copy and puts no delimiter after an empty first copy", () => {
    const m = HeaderMap.fromPairs([["user-agent", ""], ["user-agent", "Bot"], ["user-agent", ""], ["user-agent", "x"]], "request");
    expect(m.size).toBe(1);
    expect(m.get("user-agent")).toBe("Bot,x");
    const n = HeaderMap.fromPairs([["x-forwarded-for", "10.0.0.1"], ["x-forwarded-for", ""]], "request");
    expect(n.get("x-forwarded-for")).toBe("10.0.0.1");
  });

  it("keeps every copy of a header that is not inline, and get returns the first", () => {
    const m = HeaderMap.fromPairs([["x-user-id", ""], ["x-user-id", "u1"]], "request");
    expect(m.size).toBe(2);
    expect(m.get("x-user-id")).toBe("");
  });
});
