// core-js/answer-needs.ts: the facts a Node-side adapter (Kong's plugins, `simulate
// --via core`) hands the core for a request whose headers Kong reports as arrays of
// copies. They must be the facts Envoy's filter reads (core-js/envoy-inline-headers.ts).
import { describe, expect, it } from "vitest";
import { answerNeeds } from "../../core-js/answer-needs";
import { ENVOY_INLINE_REQUEST_HEADERS, mergeInlineCopies } from "../../core-js/envoy-inline-headers";
import { FactKind, type Need } from "../../core-js/tandem-core";

const header = (name: string): Need => ({ kind: FactKind.Header, name } as Need);

describe("answerNeeds: repeated headers", () => {
  it("merges an Envoy-inline header's copies as Envoy's codec does", () => {
    expect(ENVOY_INLINE_REQUEST_HEADERS.has("user-agent")).toBe(true);
    const [ua] = answerNeeds([header("user-agent")], { headers: { "user-agent": ["", "Bot", "", "x"] } });
    expect(ua).toBe("Bot,x");
  });

  it("takes the first copy, even empty, of any other header", () => {
    const [id] = answerNeeds([header("x-user-id")], { headers: { "x-user-id": ["", "u1"] } });
    expect(id).toBe("");
  });

  it("merges to an empty value when every copy is empty, and leaves single values alone", () => {
    expect(mergeInlineCopies(["", ""])).toBe("");
    const [ua, id] = answerNeeds([header("user-agent"), header("x-user-id")], { headers: { "user-agent": " a ", "x-user-id": "u" } });
    expect([ua, id]).toEqual([" a ", "u"]);
  });
});
