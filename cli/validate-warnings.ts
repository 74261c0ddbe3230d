// What `tandem validate` warns about: a valid policy that will not do what its author
// likely wants (the rules are the core's: wasm/core/plan-warnings.ts). One line each,
// printed as render prints its warnings; the exit code stays that of the validation.
import type { PolicyDoc } from "./policy-file";
import { planOf } from "./policy-plan";

export function validateWarnings(doc: PolicyDoc): string[] {
  return planOf(doc).warnings;
}
