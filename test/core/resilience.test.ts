// spec.retries, spec.timeoutMs, spec.connectionPool, spec.outlierDetection: validated with
// the whole policy (wasm/core/config/resilience.ts), field path, rule and bad value.
import { describe, expect, it } from "vitest";
import { loadCore } from "../support/dist";

const core = loadCore();
function check(spec: Record<string, unknown>): string | null {
  return core.validatePolicy(JSON.stringify({
    apiVersion: "tandem.dev/v1alpha1", kind: "TrafficPolicy", metadata: { name: "checkout" },
    spec: { experiment: { name: "e", variants: [{ name: "a", weight: 100 }] }, ...spec },
  }));
}

describe("retries, timeouts, connection pool, outlier detection", () => {
  it("accepts every field in range", () => {
    expect(check({
      retries: { attempts: 2, perTryTimeoutMs: 1000, retryOn: ["5xx", "reset", "connect-failure", "refused-stream"] },
      timeoutMs: 3000,
      connectionPool: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRequestsPerConnection: 1000 },
      outlierDetection: { consecutiveErrors: 5, intervalMs: 10000, baseEjectionTimeMs: 30000, maxEjectionPercent: 50 },
    })).toBeNull();
    expect(check({ retries: { attempts: 0 }, outlierDetection: {} })).toBeNull();
  });

  const bad: Array<[Record<string, unknown>, string]> = [
    [{ retries: {} }, "retries.attempts: is required"],
    [{ retries: { attempts: 11 } }, "retries.attempts: must be between 0 and 10, got 11"],
    [{ retries: { attempts: 1.5 } }, "retries.attempts: must be an integer, got 1.5"],
    [{ retries: { attempts: 1, perTryTimeoutMs: 0 } }, "retries.perTryTimeoutMs: must be between 1 and 86400000, got 0"],
    [{ retries: { attempts: 1, retryOn: [] } }, "retries.retryOn: must not be empty"],
    [{ retries: { attempts: 1, retryOn: ["gateway-error"] } }, `retries.retryOn[0]: must be one of 5xx, reset, connect-failure, refused-stream, got "gateway-error"`],
    [{ retries: { attempts: 1, retryOn: ["reset", "reset"] } }, `retries.retryOn[1]: must be unique, got "reset"`],
    [{ retries: { attempts: 1, backoff: 2 } }, "retries.backoff: unknown field (allowed: attempts, perTryTimeoutMs, retryOn)"],
    [{ timeoutMs: "3s" }, `timeoutMs: must be an integer, got "3s"`],
    [{ timeoutMs: 0 }, "timeoutMs: must be between 1 and 86400000, got 0"],
    [{ connectionPool: { maxConnections: 0 } }, "connectionPool.maxConnections: must be between 1 and 1000000, got 0"],
    [{ connectionPool: { maxStreams: 1 } }, "connectionPool.maxStreams: unknown field (allowed: maxConnections, maxPendingRequests, maxRequests, maxRequestsPerConnection)"],
    [{ outlierDetection: { maxEjectionPercent: 101 } }, "outlierDetection.maxEjectionPercent: must be between 0 and 100, got 101"],
    [{ outlierDetection: { consecutiveErrors: 0 } }, "outlierDetection.consecutiveErrors: must be between 1 and 1000, got 0"],
  ];
  for (const [spec, message] of bad) it(`refuses ${message}`, () => expect(check(spec)).toBe(message));
});
