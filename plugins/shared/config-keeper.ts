// Configurations of one Kong plugin in the plugin server's module scope, which outlives
// plugin instances (Kong restarts them on any config change anywhere):
//   - per Kong plugin id (__plugin_id), the last good configuration: a rejected update
//     keeps it in force (logged); a plugin never configured well throws, so Kong reports
//     the core's message;
//   - an unchanged configuration (same canonical text) is the same object, so its core
//     state (breaker keys, canary guards) survives an instance restart;
//   - per token, the configuration a request was admitted under: `log` finds it by the
//     token access carried (set_serialize_value), and ignores one replaced meanwhile.
import { randomBytes } from "node:crypto";
import { CONFIG_KEPT } from "./shared";
import { kongMetrics } from "./metrics";
import { canonical } from "./canonical";
import { pluginId, userConfig } from "./kong-config";

export interface Kept { canon: string; token: string }

// What `configure` needs from the plugin: the config's canonical text and how to build it
// (both may throw: the message is the core's).
export interface Candidate<T extends Kept> { canon: string; build(token: string): T }

export class ConfigKeeper<T extends Kept> {
  private readonly byPlugin = new Map<string, T>();
  private readonly byToken = new Map<string, T>();
  private readonly boot = randomBytes(4).toString("hex");
  private count = 0;
  private declared = false;   // tandem_config_rejections_total{plugin} at 0 (core-js/metrics.ts declare*)

  // `release`: frees a replaced configuration's core handle; `plugin`: the Kong plugin
  // name (tandem_config_rejections_total's label).
  constructor(private readonly release: (c: T) => void, private readonly plugin: string) {}

  configure(id: string | undefined, candidate: () => Candidate<T>): T {
    if (this.count === 0 && !this.declared) {
      this.declared = true;
      kongMetrics()?.declarePlugin(this.plugin, null);
    }
    const prev = id !== undefined ? this.byPlugin.get(id) : undefined;
    try {
      const cand = candidate();
      if (prev && prev.canon === cand.canon) return prev;   // a restarted instance: state kept
      const c = cand.build(`${this.boot}.${++this.count}`);
      this.byToken.set(c.token, c);
      if (id !== undefined) this.byPlugin.set(id, c);
      if (prev) { this.byToken.delete(prev.token); this.release(prev); }
      return c;
    } catch (e) {
      kongMetrics()?.configRejection(this.plugin);
      if (!prev) throw e;
      process.stderr.write(CONFIG_KEPT + (e as Error).message + "\n");
      return prev;
    }
  }

  // The configuration Kong handed a plugin instance: Kong's own keys stripped
  // (./kong-config.ts), the user's fields in `form` (the breaker's fallback list form),
  // kept by its canonical text as configure() keeps one. `build` gets the user's config
  // as the core reads it (JSON), its canonical text and the token.
  fromKong(config: Record<string, unknown>, build: (json: string, canon: string, token: string) => T,
    form: (user: Record<string, unknown>) => Record<string, unknown> = (u) => u): T {
    return this.configure(pluginId(config), () => {
      const user = form(userConfig(config));
      const canon = canonical(user);
      return { canon, build: (token) => build(JSON.stringify(user), canon, token) };
    });
  }

  byTokenOf(token: string): T | undefined {
    return this.byToken.get(token);
  }
}
