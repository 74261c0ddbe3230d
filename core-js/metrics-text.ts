// Prometheus text exposition (format 0.0.4) read into samples, and written back in one
// canonical order: what `tandem simulate --metrics` prints for every gateway and what
// the tests compare. Kong's /metrics (prom-client) and Envoy's /stats/prometheus order
// series and labels differently; the canonical form sorts both.
export interface Sample { name: string; labels: Record<string, string>; value: number }

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** Samples of an exposition; throws on a line that is not one. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const l = LABEL.exec(body);
      if (!l) throw new Error(`bad labels at ${at}: ${JSON.stringify(body)}`);
      labels[l[1]] = unescape(l[2]);
    }
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** `name{a="x",b="y"}` with labels sorted by name (an empty value is no label, as in Prometheus). */
export function seriesId(s: Sample): string {
  const ls = Object.keys(s.labels).filter((k) => s.labels[k] !== "").sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`);
  return ls.length === 0 ? s.name : `${s.name}{${ls.join(",")}}`;
}

function num(v: number): string {
  return v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v);
}

/** One line per sample, sorted by series id. */
export function canonicalText(samples: Sample[]): string {
  return samples.map((s) => `${seriesId(s)} ${num(s.value)}`).sort().join("\n") + (samples.length > 0 ? "\n" : "");
}
