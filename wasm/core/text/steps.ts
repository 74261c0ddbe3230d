// A work counter for tests: the regex engine and the substring scan count their inner
// loop iterations here, so tests check linear time as a count of steps (exact, the same
// on any machine) instead of timing. Compiled in only when the build defines
// TANDEM_COUNT_STEPS (`asc --use TANDEM_COUNT_STEPS=1`, the test entries' builds:
// test/support/compile-entry.ts); the gateways' builds contain no trace of it.
export let workSteps: u64 = 0;

// @ts-ignore: decorator
@inline export function countSteps(n: i32): void {
  // @ts-ignore: a compile-time constant only the test builds define
  if (isDefined(TANDEM_COUNT_STEPS)) workSteps += <u64>n;
}

export function resetSteps(): void { workSteps = 0; }
