// Node-side metrics (core-js/metrics.ts): label values stay bounded whatever requests
// carry. 100,000 distinct breaker keys and unknown variants, then the series counted.
import { describe, expect, it } from "vitest";
import { KeyLabels, TandemMetrics } from "../../core-js/metrics";
import { parseExposition } from "../../core-js/metrics-text";
import { BREAKER_REJECTIONS, BREAKER_STATE, BREAKER_TRANSITIONS, OTHER, REQUESTS_TOTAL } from "../../wasm/core/metrics/catalog";

describe("label values are bounded", () => {
  it("100,000 distinct breaker keys make at most maxKeys + 1 key series", async () => {
    const m = new TandemMetrics();
    const keys = new KeyLabels(64);
    for (let i = 0; i < 100_000; i++) {
      const k = keys.label(`tenant-${i}`);
      m.breakerTransition("p", k, "closed", "open");
      m.breakerRejection("p", k);
    }
    const samples = parseExposition(await m.text());
    for (const name of [BREAKER_STATE, BREAKER_TRANSITIONS, BREAKER_REJECTIONS]) {
      const series = samples.filter((s) => s.name === name);
      expect(series.length, name).toBe(65);
      expect(series.filter((s) => s.labels.key === OTHER).length).toBe(1);
    }
    expect(samples.find((s) => s.name === BREAKER_REJECTIONS && s.labels.key === OTHER)!.value).toBe(100_000 - 64);
  });

  it("reasons and statuses outside the catalog add no series", async () => {
    const m = new TandemMetrics();
    for (let i = 0; i < 100_000; i++) m.request("p", "e", "stable", 8 + (i % 50), i % 1000);
    const series = parseExposition(await m.text()).filter((s) => s.name === REQUESTS_TOTAL);
    // reasons beyond the catalog collapse to "other"; statuses outside 100..599 are not counted
    expect(new Set(series.map((s) => s.labels.reason))).toEqual(new Set([OTHER]));
    expect(series.length).toBe(5);
  });
});
