// The playground page: polls GET /api/state once a second and draws Kong and Envoy side
// by side (served split against the weights, assignments by source, per-variant rate,
// success rate and p95 with uPlot, guard and breaker states over time with their
// transitions, the last decisions, the agreement line); its forms POST /api/control.
// Variants are told apart by line pattern and marker shape as well as colour, states
// by words and symbols; every chart has a text summary for screen readers.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./style.css";

type Gw = "kong" | "envoy";
interface StateTrack { values: Array<number | null>; transitions: Array<{ t: number; from: number; to: number }> }
interface Decision { t: number; user: string; variant: string; reason: string; status: number; ms: number }
interface GatewayState {
  url: string; split: Record<string, number>; rate: Record<string, Array<number | null>>; success: Record<string, Array<number | null>>;
  p95: Record<string, Array<number | null>>; guards: Record<string, StateTrack>; breakers: Record<string, StateTrack>;
  sources: Record<string, number>; sourcesFrom: string; decisions: Decision[]; from: string; metrics: string;
}
interface State {
  policy: { name: string; metadataName: string; parts: string[]; generation: number; variants: Array<{ name: string; weight: number; upstream: string | null; guarded: boolean }>; faults: { count: number; enabled: boolean } | null; yaml: string };
  examples: string[];
  limits: Record<string, [number, number]>;
  load: { rps: number; users: number; returningPercent: number; sent: number; skipped: number };
  backends: Record<string, { upstream: string; errorPercent: number; latencyMs: number }>;
  gateways: Record<Gw, GatewayState>;
  t: number[];
  marks: Array<{ t: number; label: string }>;
  agreement: { users: number; compared: number; differ: number; lastDiffer: string | null; stateful: number } | null;
  moves: Record<string, number>;
}

const GWS: Gw[] = ["kong", "envoy"];
// Colour-blind-safe (Okabe–Ito) colours; each variant also has its own dash and marker.
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];
const DASHES: number[][] = [[], [8, 4], [2, 3], [12, 3, 2, 3], [4, 4], [1, 6]];
const MARKERS = ["●", "▲", "■", "◆", "▼", "✚"];
const STATE_WORDS: Record<string, string[]> = {
  guard: ["ok", "rolled back", "probing"],
  breaker: ["closed", "open", "half-open"],
};
const STATE_SYMBOLS = ["✓", "✕", "◐"];

const $ = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector(sel) as T;
const el = (tag: string, attrs: Record<string, string> = {}, text?: string) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const fmtTime = (t: number) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });

let state: State | null = null;
let variantOrder: string[] = [];
const colourOf = (v: string) => { const i = variantOrder.indexOf(v); return COLOURS[(i < 0 ? variantOrder.length : i) % COLOURS.length]; };
const dashOf = (v: string) => DASHES[Math.max(0, variantOrder.indexOf(v)) % DASHES.length];
const markerOf = (v: string) => MARKERS[Math.max(0, variantOrder.indexOf(v)) % MARKERS.length];

// ---- one gateway's panel ----

interface Panel {
  root: HTMLElement;
  charts: Record<string, uPlot | null>;
  keys: Record<string, string>;
}
const panels = {} as Record<Gw, Panel>;

function buildPanel(gw: Gw): Panel {
  const root = $(`[data-gw=${gw}]`);
  root.append(
    el("p", { class: "muted", "data-role": "url" }),
    el("h3", {}, "Served split (last 10 s) against the weights"),
    el("div", { class: "split", "data-role": "split" }),
    el("h3", {}, "Assignments by source"),
    el("p", { "data-role": "sources" }),
    el("h3", {}, "Canary guards and circuit breakers"),
    el("div", { class: "states", "data-role": "states" }),
    el("div", { class: "chart", "data-role": "chart-state" }),
    el("ul", { class: "transitions", "data-role": "transitions", "aria-label": `${gw} transitions` }),
    el("h3", {}, "Requests per second, per variant"),
    el("div", { class: "chart", "data-role": "chart-rate" }),
    el("h3", {}, "Success rate % (status below 500)"),
    el("div", { class: "chart", "data-role": "chart-success" }),
    el("h3", {}, "p95 latency, ms"),
    el("div", { class: "chart", "data-role": "chart-p95" }),
    el("h3", {}, "Last decisions"),
    el("table", { class: "decisions", "data-role": "decisions" }),
  );
  return { root, charts: { rate: null, success: null, p95: null, state: null }, keys: {} };
}

// Vertical lines where the policy or a backend changed, labelled.
function marksPlugin(): uPlot.Plugin {
  return {
    hooks: {
      draw: [(u: uPlot) => {
        if (!state) return;
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#555";
        ctx.fillStyle = "#222";
        ctx.setLineDash([3, 3]);
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        for (const m of state.marks) {
          const x = u.valToPos(m.t, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillText(m.label.slice(0, 40), x + 3, u.bbox.top + 12 * devicePixelRatio);
        }
        ctx.restore();
      }],
    },
  };
}

function chartWidth(host: HTMLElement): number {
  return Math.max(260, Math.floor(host.clientWidth || host.parentElement!.clientWidth) - 4);
}

function lineChart(host: HTMLElement, title: string, names: string[], unit: string, yRange?: [number, number]): uPlot {
  const opts: uPlot.Options = {
    width: chartWidth(host), height: 150, plugins: [marksPlugin()],
    scales: { x: { time: true }, y: yRange ? { range: yRange } : { auto: true } },
    axes: [{}, { label: unit, size: 50 }],
    legend: { live: false },
    series: [{}, ...names.map((n) => ({
      label: `${markerOf(n)} ${n}`, stroke: colourOf(n), width: 2, dash: dashOf(n), spanGaps: false,
      points: { show: true, size: 5, space: 40 },
    }))],
  };
  host.setAttribute("role", "img");
  host.setAttribute("aria-label", title);
  return new uPlot(opts, [[], ...names.map(() => [])], host);
}

function stateChart(host: HTMLElement, names: string[]): uPlot {
  const opts: uPlot.Options = {
    width: chartWidth(host), height: 120, plugins: [marksPlugin()],
    scales: { x: { time: true }, y: { range: [-0.2, 2.2] } },
    axes: [{}, { size: 84, splits: () => [0, 1, 2], values: (_u, vs) => vs.map((v) => (["ok/closed", "open", "half-open"][v] ?? "")) }],
    legend: { live: false },
    series: [{}, ...names.flatMap((n, i) => [
      { label: n, stroke: COLOURS[(i + 2) % COLOURS.length], width: 2, dash: DASHES[i % DASHES.length], paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
      // transitions: markers only
      { label: `${n} transitions`, stroke: "#000", fill: "#fff", width: 0, paths: () => null, points: { show: true, size: 10, width: 2 } },
    ])],
  };
  host.setAttribute("role", "img");
  return new uPlot(opts, [[], ...names.flatMap(() => [[], []])], host);
}

function ensureChart(p: Panel, kind: string, names: string[], make: (host: HTMLElement) => uPlot): uPlot {
  const key = names.join("|");
  if (p.charts[kind] && p.keys[kind] === key) return p.charts[kind]!;
  p.charts[kind]?.destroy();
  const host = $(`[data-role=chart-${kind}]`, p.root);
  host.textContent = "";
  p.keys[kind] = key;
  return (p.charts[kind] = make(host));
}

function summary(series: Record<string, Array<number | null>>, unit: string): string {
  return Object.entries(series).map(([v, xs]) => {
    const last = [...xs].reverse().find((x) => x !== null);
    return `${v} ${last ?? "no data"}${last !== undefined ? " " + unit : ""}`;
  }).join(", ");
}

function drawPanel(gw: Gw, s: State) {
  const p = panels[gw];
  const g = s.gateways[gw];
  const name = gw === "kong" ? "Kong" : "Envoy";
  $("[data-role=url]", p.root).textContent = `${g.url} · split, guard and breaker figures from ${g.from === "metrics" ? "the gateway's metrics" : "the answers the load generator saw"} (metrics: ${g.metrics})`;

  // split: one bar per variant, served (filled, patterned) against configured (a marker)
  const split = $("[data-role=split]", p.root);
  split.textContent = "";
  for (const v of s.policy.variants) {
    const served = g.split[v.name] ?? 0;
    const row = el("div", { class: "split-row", "data-variant": v.name });
    const label = el("span", { class: "split-label" }, `${markerOf(v.name)} ${v.name}`);
    const bar = el("span", { class: "bar", role: "img", "aria-label": `${v.name}: served ${served}%, weight ${v.weight}%` });
    const fill = el("span", { class: `bar-fill pattern-${variantOrder.indexOf(v.name) % 4}` });
    fill.style.width = `${served}%`;
    fill.style.backgroundColor = colourOf(v.name);
    const target = el("span", { class: "bar-target", title: `weight ${v.weight}%` });
    target.style.left = `${v.weight}%`;
    bar.append(fill, target);
    const text = el("span", { class: "split-text", "data-role": "served" }, `served ${served}% · weight ${v.weight}%`);
    row.append(label, bar, text);
    split.append(row);
  }

  const src = Object.entries(g.sources).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n.toLocaleString()}`);
  $("[data-role=sources]", p.root).textContent = (src.length ? src.join(" · ") : "none yet") +
    (g.sourcesFrom === "metrics" ? " (tandem_assignments_total, since the gateway started)" : " (requests the load generator sent)");

  // states
  const tracks: Array<[string, string, StateTrack]> = [
    ...Object.entries(g.guards).map(([k, t]) => ["guard", `guard of ${k}`, t] as [string, string, StateTrack]),
    ...Object.entries(g.breakers).map(([k, t]) => ["breaker", `breaker ${k}`, t] as [string, string, StateTrack]),
  ];
  const box = $("[data-role=states]", p.root);
  box.textContent = "";
  if (tracks.length === 0 && !s.policy.parts.includes("circuit-breaker")) box.append(el("p", { class: "muted" }, "this policy has no canary guard or circuit breaker"));
  // A breaker's state is not visible in the answers a client gets: only in the metrics.
  if (Object.keys(g.breakers).length === 0 && s.policy.parts.includes("circuit-breaker")) {
    box.append(el("span", { class: g.from === "metrics" ? "badge state-0" : "muted", "data-role": "breaker-state" }, g.from === "metrics"
      ? `${STATE_SYMBOLS[0]} circuit breaker: closed (no key has changed state)`
      : "circuit breaker: its state shows once this gateway serves metrics"));
  }
  for (const [kind, label, t] of tracks) {
    const cur = [...t.values].reverse().find((x) => x !== null) ?? null;
    const word = cur === null ? "unknown" : STATE_WORDS[kind][cur] ?? String(cur);
    const badge = el("span", { class: `badge state-${cur ?? "x"}`, "data-role": `${kind}-state`, "data-key": label }, `${cur === null ? "?" : STATE_SYMBOLS[cur]} ${label}: ${word}`);
    box.append(badge);
  }
  const names = tracks.map(([, l]) => l);
  const stateHost = $("[data-role=chart-state]", p.root);
  if (names.length > 0) {
    const c = ensureChart(p, "state", names, (h) => stateChart(h, names));
    const data: Array<Array<number | null>> = [s.t];
    for (const [, , t] of tracks) {
      data.push(t.values);
      const marks = t.values.map(() => null as number | null);
      for (const tr of t.transitions) { const i = s.t.indexOf(tr.t); if (i >= 0) marks[i] = tr.to; }
      data.push(marks);
    }
    c.setData(data as uPlot.AlignedData);
    stateHost.setAttribute("aria-label", `${name} guard and breaker states over time: ${box.textContent}`);
  } else if (p.charts.state) { p.charts.state.destroy(); p.charts.state = null; p.keys.state = ""; stateHost.textContent = ""; }
  const trList = $("[data-role=transitions]", p.root);
  trList.textContent = "";
  const all = tracks.flatMap(([kind, label, t]) => t.transitions.map((x) => ({ ...x, kind, label }))).sort((a, b) => b.t - a.t).slice(0, 6);
  for (const x of all) trList.append(el("li", { "data-role": "transition" }, `${fmtTime(x.t)} ${x.label}: ${STATE_WORDS[x.kind][x.from]} → ${STATE_WORDS[x.kind][x.to]}`));

  const variants = Object.keys(g.rate).filter((v) => v !== "—");
  for (const [kind, series, unit, range] of [["rate", g.rate, "req/s", undefined], ["success", g.success, "%", [0, 100]], ["p95", g.p95, "ms", undefined]] as const) {
    const c = ensureChart(p, kind, variants, (h) => lineChart(h, `${name} ${kind}`, variants, unit, range as [number, number] | undefined));
    c.setData([s.t, ...variants.map((v) => series[v])] as uPlot.AlignedData);
    $(`[data-role=chart-${kind}]`, p.root).setAttribute("aria-label", `${name} ${kind === "rate" ? "requests per second" : kind === "success" ? "success rate" : "p95 latency"}, latest: ${summary(Object.fromEntries(variants.map((v) => [v, series[v]])), unit)}`);
  }

  const table = $("[data-role=decisions]", p.root);
  table.textContent = "";
  const cap = el("caption", { class: "visually-hidden" }, `${name}: last decisions`);
  const head = el("tr");
  for (const h of ["time", "user", "variant", "reason", "status", "ms"]) head.append(el("th", { scope: "col" }, h));
  table.append(cap, head);
  for (const d of [...g.decisions].reverse().slice(0, 8)) {
    const tr = el("tr");
    for (const v of [new Date(d.t).toLocaleTimeString([], { hour12: false }), d.user, `${markerOf(d.variant)} ${d.variant}`, d.reason, String(d.status), String(d.ms)]) tr.append(el("td", {}, v));
    table.append(tr);
  }
}

function drawAgreement(s: State) {
  const a = s.agreement;
  const p = $("#agreement");
  if (!a || a.compared === 0) { p.textContent = "waiting for traffic…"; p.className = "agreement"; return; }
  if (a.differ === 0) {
    p.textContent = `✓ Kong and Envoy agree for every user seen: ${a.users.toLocaleString()} users, ${a.compared.toLocaleString()} request pairs compared` +
      (a.stateful > 0 ? ` (${a.stateful.toLocaleString()} pairs answered by a guard or breaker, whose state each gateway keeps, not compared)` : "");
    p.className = "agreement ok";
  } else {
    p.textContent = `✕ ${a.differ} of ${a.users.toLocaleString()} users got different variants on Kong and Envoy (last: ${a.lastDiffer})`;
    p.className = "agreement bad";
  }
}

// ---- controls ----

let filled = -1;
function fillControls(s: State) {
  $("#policy-name").textContent = `— ${s.policy.name} (${s.policy.parts.join(", ")})`;
  $("#load-note").textContent = `sent ${s.load.sent.toLocaleString()} pairs last second${s.load.skipped > 0 ? `, ${s.load.skipped} skipped (gateways behind)` : ""}`;
  const mv = Object.entries(s.moves).map(([k, n]) => `${k} ${n}`).join(", ");
  $("#moves").textContent = `users who changed variant since the last weight change: ${mv || "none"}`;
  const ft = $<HTMLButtonElement>("#faults-toggle");
  if (s.policy.faults) {
    ft.disabled = false;
    ft.textContent = `faults: ${s.policy.faults.enabled ? "on" : "off"}`;
    ft.setAttribute("aria-pressed", String(s.policy.faults.enabled));
    $("#faults-note").textContent = `${s.policy.faults.count} fault(s) in spec.faults`;
  } else {
    ft.disabled = true;
    ft.textContent = "faults: none in this policy";
    $("#faults-note").textContent = "load playground.yaml or game-day.yaml to switch faults on and off";
  }
  if (filled === s.policy.generation) return;
  // Inputs are filled from the running state when the policy changes, not every second
  // (that would overwrite what a person is typing).
  filled = s.policy.generation;
  const f = (id: string) => $<HTMLFormElement>(id);
  const set = (form: HTMLFormElement, name: string, v: string | number) => { (form.elements.namedItem(name) as HTMLInputElement).value = String(v); };
  const lf = f("#load-form");
  set(lf, "rps", s.load.rps); set(lf, "users", s.load.users); set(lf, "returningPercent", s.load.returningPercent);
  for (const id of ["#backend-form", "#weight-form"]) {
    const sel = f(id).elements.namedItem("variant") as HTMLSelectElement;
    sel.textContent = "";
    for (const v of s.policy.variants) sel.append(el("option", { value: v.name }, v.name));
    sel.value = s.policy.variants[s.policy.variants.length - 1].name;
  }
  const last = s.policy.variants[s.policy.variants.length - 1];
  set(f("#weight-form"), "weight", last.weight);
  const b = s.backends[last.name];
  set(f("#backend-form"), "errorPercent", b.errorPercent); set(f("#backend-form"), "latencyMs", b.latencyMs);
  const ex = f("#policy-form").elements.namedItem("example") as HTMLSelectElement;
  ex.textContent = "";
  for (const e of s.examples) ex.append(el("option", { value: e }, e));
  ex.value = s.examples.includes(s.policy.name) ? s.policy.name : s.examples[0];
  $("#policy-yaml").textContent = s.policy.yaml;
}

// The same bounds the endpoint enforces (it sends them in /api/state): a value out of
// range gets the message here, next to its field, without a request.
function checked(form: HTMLFormElement, fields: string[], errorId: string): Record<string, number> | null {
  const out: Record<string, number> = {};
  const err = $(errorId);
  err.textContent = "";
  for (const f of fields) {
    const input = form.elements.namedItem(f) as HTMLInputElement;
    input.removeAttribute("aria-invalid");
    const v = Number(input.value);
    const [lo, hi] = state!.limits[f];
    let msg: string | null = null;
    if (input.value.trim() === "" || !Number.isFinite(v)) msg = `${f}: must be a number, got "${input.value}"`;
    else if (v < lo || v > hi) msg = `${f}: must be between ${lo} and ${hi}, got ${v}`;
    if (msg) { err.textContent = msg; input.setAttribute("aria-invalid", "true"); input.focus(); return null; }
    out[f] = v;
  }
  return out;
}

async function send(body: unknown, errorId?: string): Promise<boolean> {
  const msg = $("#message");
  msg.textContent = "applying…";
  msg.className = "message";
  const r = await fetch("api/control", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const j = (await r.json()) as { ok: boolean; message: string };
  msg.textContent = j.ok ? `✓ ${j.message}` : `✕ refused: ${j.message}`;
  msg.className = `message ${j.ok ? "ok" : "bad"}`;
  if (!j.ok && errorId) $(errorId).textContent = j.message;
  // Inputs refill from the running state only when the policy changed (generation), so
  // what a person typed stays put.
  await poll();
  return j.ok;
}

function wire() {
  const lf = $<HTMLFormElement>("#load-form");
  lf.addEventListener("submit", (e) => { e.preventDefault(); const v = checked(lf, ["rps", "users", "returningPercent"], "#load-error"); if (v) void send({ load: v }, "#load-error"); });
  const bf = $<HTMLFormElement>("#backend-form");
  const variantOf = (f: HTMLFormElement) => (f.elements.namedItem("variant") as HTMLSelectElement).value;
  bf.addEventListener("submit", (e) => { e.preventDefault(); const v = checked(bf, ["errorPercent", "latencyMs"], "#backend-error"); if (v) void send({ backend: { variant: variantOf(bf), ...v } }, "#backend-error"); });
  // The quick buttons act on the last variant (the canary), and show what they sent in the form.
  const quick = (errorPercent: number, latencyMs: number) => () => {
    const variant = state!.policy.variants[state!.policy.variants.length - 1].name;
    (bf.elements.namedItem("variant") as HTMLSelectElement).value = variant;
    (bf.elements.namedItem("errorPercent") as HTMLInputElement).value = String(errorPercent);
    (bf.elements.namedItem("latencyMs") as HTMLInputElement).value = String(latencyMs);
    void send({ backend: { variant, errorPercent, latencyMs } }, "#backend-error");
  };
  $("#fail-canary").addEventListener("click", quick(50, 0));
  $("#down-canary").addEventListener("click", quick(100, 0));
  $("#slow-canary").addEventListener("click", quick(0, 800));
  $("#heal-canary").addEventListener("click", quick(0, 0));
  const wf = $<HTMLFormElement>("#weight-form");
  wf.addEventListener("submit", (e) => { e.preventDefault(); const v = checked(wf, ["weight"], "#weight-error"); if (v) void send({ weight: { variant: variantOf(wf), weight: v.weight } }, "#weight-error"); });
  const pf = $<HTMLFormElement>("#policy-form");
  pf.addEventListener("submit", (e) => { e.preventDefault(); void send({ policy: { example: (pf.elements.namedItem("example") as HTMLSelectElement).value } }); });
  $("#faults-toggle").addEventListener("click", () => void send({ faults: { enabled: !state!.policy.faults?.enabled } }));
}

async function poll() {
  try {
    const r = await fetch("api/state", { cache: "no-store" });
    const s = (await r.json()) as State;
    state = s;
    for (const v of s.policy.variants) if (!variantOrder.includes(v.name)) variantOrder.push(v.name);
    fillControls(s);
    drawAgreement(s);
    for (const g of GWS) drawPanel(g, s);
    document.body.dataset.ready = "1";
  } catch (e) {
    $("#agreement").textContent = `the playground is not answering (${e instanceof Error ? e.message : e}): is it still running?`;
  }
}

for (const g of GWS) panels[g] = buildPanel(g);
wire();
void poll();
setInterval(() => void poll(), 1000);
// Charts follow their column's width (1280×800 side by side; one column when narrow).
new ResizeObserver(() => {
  for (const g of GWS) for (const [k, c] of Object.entries(panels[g].charts)) if (c) c.setSize({ width: chartWidth($(`[data-role=chart-${k}]`, panels[g].root)), height: c.height });
}).observe($("#gateways"));
