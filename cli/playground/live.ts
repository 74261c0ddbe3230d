// The live playground behind the page: the gateways (./stack.ts), the load generator
// (./load.ts), the last minutes of figures (./history.ts), and the controls. A control
// that changes the policy builds the new policy, has the core validate it and only then
// puts it in force on both gateways; a refused one leaves the running policy as it was
// and answers the core's message.
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { stringify } from "yaml";
import type { PolicyDoc } from "../policy-file";
import { loadPolicy, InvalidPolicy } from "../validate";
import { Stack, RefusedPolicy, shapeOf, type PolicyShape } from "./stack";
import { LoadGenerator } from "./load";
import type { LoadSecond } from "./load-shape";
import { History, GATEWAYS } from "./history";
import { BadControl, CONTROL_LIMITS, parseControl, reweigh } from "./controls";
import { userKey, userRequest } from "./user-request";
import { MetricsScraper } from "./metrics-scrape";
import { planOf } from "../policy-plan";

export interface LiveOptions { rps: number; users: number; returningPercent: number }

// The policy's own fields a control edits (a weight, a fault's switch): what the page
// shows is read from the core's plan.
interface VariantDoc { name: string; weight?: number; upstream?: string; guard?: unknown }
interface FaultDoc { enabled?: boolean; start?: string; end?: string }

export class Live {
  readonly history: History;
  private load!: LoadGenerator;
  private scraper: MetricsScraper;
  private busy: Promise<unknown> = Promise.resolve();
  private lastMessage: { ok: boolean; text: string; t: number } | null = null;

  constructor(readonly stack: Stack, private policyName: string, private readonly examplesDir: string, opts: LiveOptions) {
    this.history = new History(this.guarded());
    this.scraper = new MetricsScraper(() => this.stack);
    this.load = new LoadGenerator({ rps: opts.rps, users: opts.users, returning: opts.returningPercent / 100 }, (s) => this.onSecond(s));
    this.aim(false);
  }

  private guarded(): string[] {
    return planOf(this.stack.shape.doc).variants.filter((v) => v.guarded).map((v) => v.name);
  }

  private onSecond(s: LoadSecond): void {
    this.history.push(s, this.scraper.states());
  }

  private aim(reset: boolean): void {
    const sh = this.stack.shape;
    const ex = planOf(sh.doc);
    const r = userRequest(ex, null);
    this.load.aim({
      kongPort: this.stack.kong.port, envoyPort: this.stack.envoy.port, path: r.path, host: r.headers.host ?? null,
      key: userKey(ex), cookie: sh.cookie, variantHeader: sh.variantHeader, generation: this.stack.generation,
    }, reset);
  }

  examples(): string[] {
    return readdirSync(this.examplesDir).filter((f) => f.endsWith(".yaml")).sort();
  }

  /** What GET /api/state answers: everything the page draws. */
  state(): unknown {
    const sh = this.stack.shape;
    const plan = planOf(sh.doc);
    const variants = plan.variants;
    const backends = Object.fromEntries(variants.map((v) => {
      const b = this.stack.backends.get(v.upstream ?? v.name)!.behaviour;
      return [v.name, { upstream: v.upstream ?? v.name, errorPercent: Math.round(b.errorShare * 1000) / 10, latencyMs: b.latencyMs }];
    }));
    const h = this.history;
    const last = h.last;
    return {
      policy: {
        name: this.policyName, metadataName: sh.doc.metadata.name, parts: sh.parts, generation: this.stack.generation,
        variants: variants.map((v) => ({ name: v.name, weight: v.weight, upstream: v.upstream, guarded: v.guarded })),
        faults: plan.faults,
        yaml: stringify(sh.doc),
      },
      examples: this.examples(),
      limits: CONTROL_LIMITS,
      load: { rps: this.load.settings.rps, users: this.load.settings.users, returningPercent: Math.round(this.load.settings.returning * 1000) / 10, sent: last?.sent ?? 0, skipped: last?.skipped ?? 0 },
      backends,
      gateways: Object.fromEntries(GATEWAYS.map((g) => [g, {
        url: `http://127.0.0.1:${g === "kong" ? this.stack.kong.port : this.stack.envoy.port}`,
        ...h.gw[g], split: h.split(g), sources: h.gw[g].assignments ?? h.gw[g].sources, sourcesFrom: h.gw[g].assignments ? "metrics" : "load generator",
        requests: undefined, assignments: undefined, metrics: this.scraper.status(g),
      }])),
      t: h.t,
      marks: h.marks,
      agreement: last?.agreement ?? null,
      moves: last?.moves ?? {},
      message: this.lastMessage,
    };
  }

  /** One control (POST /api/control). Resolves with a one-line message; rejects with BadControl / RefusedPolicy. */
  control(body: unknown): Promise<string> {
    const run = async () => {
      try {
        const text = await this.apply(body);
        this.lastMessage = { ok: true, text, t: Date.now() };
        return text;
      } catch (e) {
        if (e instanceof BadControl || e instanceof RefusedPolicy) this.lastMessage = { ok: false, text: e.message, t: Date.now() };
        throw e;
      }
    };
    // One control at a time: a reload must not interleave with a weight change.
    const p = this.busy.then(run, run);
    this.busy = p.catch(() => undefined);
    return p;
  }

  private async apply(body: unknown): Promise<string> {
    const c = parseControl(body);
    const sh = this.stack.shape;
    if ("load" in c) {
      this.load.set({ rps: c.load.rps, users: c.load.users, returning: c.load.returningPercent / 100 });
      return `load: ${c.load.rps} pairs/s, ${c.load.users} users, ${c.load.returningPercent}% returning`;
    }
    if ("backend" in c) {
      const v = sh.variants.find((x) => x.name === c.backend.variant);
      if (!v) throw new BadControl(`backend.variant: must name one of the experiment's variants (${sh.variants.map((x) => x.name).join(", ")}), got ${JSON.stringify(c.backend.variant)}`);
      const b = this.stack.backends.get(v.upstream ?? v.name)!.behaviour;
      b.errorShare = c.backend.errorPercent / 100;
      b.latencyMs = c.backend.latencyMs;
      this.history.mark(`${v.name}: ${c.backend.errorPercent}% errors, +${c.backend.latencyMs} ms`);
      return `backend ${v.upstream ?? v.name} (${v.name}): ${c.backend.errorPercent}% errors, +${c.backend.latencyMs} ms`;
    }
    if ("weight" in c) {
      const doc = structuredClone(sh.doc) as PolicyDoc;
      const ex = doc.spec.experiment as { variants: VariantDoc[] };
      ex.variants = reweigh(ex.variants, c.weight.variant, c.weight.weight) as VariantDoc[];
      const how = await this.stack.apply(shapeOf(doc));
      const text = ex.variants.map((v) => `${v.name} ${v.weight}`).join(" / ");
      this.history.mark(`weights ${text}`);
      this.aim(false);
      return `weights ${text} applied to Kong and Envoy (${how})`;
    }
    if ("faults" in c) {
      const doc = structuredClone(sh.doc) as PolicyDoc;
      const faults = doc.spec.faults as FaultDoc[] | undefined;
      if (!faults) throw new BadControl(`faults.enabled: this policy has no spec.faults (load game-day.yaml or playground.yaml), got ${c.faults.enabled}`);
      for (const f of faults) {
        f.enabled = c.faults.enabled;
        // An example's window is in trace time (ms from 1970); the playground runs on the
        // wall clock, so switching a fault on runs it now, without a window.
        if (c.faults.enabled) { delete f.start; delete f.end; }
      }
      const how = await this.stack.apply(shapeOf(doc));
      this.history.mark(`faults ${c.faults.enabled ? "on" : "off"}`);
      this.aim(false);
      return `faults ${c.faults.enabled ? "on" : "off"} on Kong and Envoy (${how})`;
    }
    const name = c.policy.example;
    if (!this.examples().includes(name)) throw new BadControl(`policy.example: must be one of ${this.examples().join(", ")}, got ${JSON.stringify(name)}`);
    let doc: PolicyDoc;
    try {
      doc = loadPolicy(join(this.examplesDir, name));
    } catch (e) {
      if (e instanceof InvalidPolicy) throw new RefusedPolicy(e.message);
      throw e;
    }
    const next = playgroundShape(doc);
    await this.stack.apply(next);
    this.policyName = basename(name);
    this.history.reset(this.guarded());
    this.history.mark(`policy ${name}`);
    this.aim(true);
    return `policy ${name} running on Kong and Envoy`;
  }

  async close(): Promise<void> {
    await this.load.close();
    this.scraper.close();
  }
}

/**
 * The policy as the playground runs it: with `exposeHeader: true` when the core accepts
 * it, so each answer says why (x-tandem-decision: <variant>; reason=<...>) and the page
 * can list reasons and tell guard answers apart. Else the policy as it is.
 */
export function playgroundShape(doc: PolicyDoc): PolicyShape {
  const ex = doc.spec.experiment;
  if (ex && ex.exposeHeader === undefined) {
    const exposed = structuredClone(doc);
    exposed.spec.experiment!.exposeHeader = true;
    try { return shapeOf(exposed); } catch (e) { if (!(e instanceof RefusedPolicy)) throw e; }
  }
  return shapeOf(doc);
}
