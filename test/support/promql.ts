// PromQL as the Prometheus UI parses it (@prometheus-io/lezer-promql, the grammar of
// Prometheus's own editor): syntax errors with their position, and the metric and label
// names an expression reads, so the deploy files can be held to tandem's metric contract
// without a Prometheus binary.
import { parser } from "@prometheus-io/lezer-promql";

export interface PromqlFacts {
  /** one line per syntax error: offset and the text there */
  errors: string[];
  /** metric names of the vector selectors (`foo{...}` and `{__name__="foo"}`) */
  metrics: string[];
  /** label names in matchers, by/without, on/ignoring and group_left/right */
  labels: string[];
}

export function promql(expr: string): PromqlFacts {
  const errors: string[] = [];
  const metrics = new Set<string>();
  const labels = new Set<string>();
  const tree = parser.parse(expr);
  const text = (from: number, to: number) => expr.slice(from, to);
  tree.iterate({
    enter(n) {
      if (n.type.isError) errors.push(`syntax error at ${n.from}: ${JSON.stringify(text(Math.max(0, n.from - 10), n.from + 10))}`);
      else if (n.name === "Identifier" && n.node.parent?.name === "VectorSelector") metrics.add(text(n.from, n.to));
      else if (n.name === "LabelName") {
        const name = text(n.from, n.to);
        // {__name__="x"}: the name is in the string that follows
        if (name === "__name__") {
          const value = n.node.parent?.getChild("StringLiteral");
          if (value) metrics.add(JSON.parse(text(value.from, value.to).replace(/^'|'$/g, '"')));
        } else labels.add(name);
      }
    },
  });
  return { errors, metrics: [...metrics].sort(), labels: [...labels].sort() };
}

// A histogram's series: NAME_bucket (with le), NAME_sum, NAME_count.
export function seriesNames(contract: Record<string, { type: string }>): string[] {
  return Object.entries(contract).flatMap(([name, m]) => (m.type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]));
}
