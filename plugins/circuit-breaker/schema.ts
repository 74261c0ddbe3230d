// Kong schema of the `circuit-breaker` plugin. Placeholder until the breaker lands:
// no fields yet, so only an empty config is accepted.
export const Schema: unknown[] = [];
