// Loaded external plugins and their instances in the plugin servers.
//  - order: kong/db/dao/plugins.lua sort_by_handler_priority (PRIORITY desc,
//    ties broken by name, descending);
//  - config handed to StartInstance: plugins_iterator.lua get_plugin_config;
//  - instances: plugin_servers/plugin.lua get_instance_id / reset_instance.

import { randomUUID } from 'node:crypto';
import { cjsonEncode } from './lua-values';
import { storedConfig, checkPluginSchema, type SchemaFields } from './schema';
import type { PluginInfo, PluginServer } from './plugin-server';

export type PluginScope = 'global' | 'service' | 'route';

export interface LoadedPlugin {
  name: string;
  dir: string;
  scope: PluginScope;
  /** the plugin entity's id (kong.plugin.get_id, __plugin_id) */
  id: string;
  /** the plugin entity's instance_name, if it has one */
  instanceName?: string;
  /** the route a route-scoped entity is attached to (default: the harness's first route) */
  routeId?: string;
  info: PluginInfo;
  phases: Set<string>;
  configFields: SchemaFields;
  /** config as Kong stored it (defaults filled, nulls dropped) */
  stored: Record<string, unknown>;
  /** stored + Kong's keys, as sent in StartInstance */
  conf: Record<string, unknown>;
  server: PluginServer;
  /** the entity's `enabled`: a disabled one is never collected (./gateway.ts rebuildIterator) */
  enabled: boolean;
}

export function configFieldsOf(info: PluginInfo): SchemaFields {
  const config = info.Schema?.fields?.[0]?.config;
  const fields = (config?.fields ?? []) as SchemaFields;
  checkPluginSchema(info.Name, fields);
  return fields;
}

export function sortByPriority(plugins: LoadedPlugin[]): LoadedPlugin[] {
  return [...plugins].sort((a, b) => {
    const pa = a.info.Priority ?? 0;
    const pb = b.info.Priority ?? 0;
    if (pa === pb) return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
    return pb - pa;
  });
}

export interface Ids {
  workspaceId: string;
  routeId: string;
  serviceId: string;
}

/**
 * plugins_iterator.lua get_plugin_config, on a freshly loaded config table: Kong's
 * keys are route_id, service_id, consumer_id (the entity's foreign keys), and
 * plugin_instance_name (its instance_name), each assigned from a value that is nil
 * when unset, so absent rather than null (rows are read with nulls = nil); then
 * __plugin_id, __ws_id, __key__ and __seq__. Kong 3.9.3 OSS has no consumer groups.
 * The harness has no consumers, so consumer_id is always absent.
 */
export function kongConf(p: Pick<LoadedPlugin, 'name' | 'scope' | 'id' | 'stored' | 'instanceName' | 'routeId'>, ids: Ids, seq: number): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...p.stored };
  const routeId = p.scope === 'route' ? (p.routeId ?? ids.routeId) : undefined;
  const serviceId = p.scope === 'service' ? ids.serviceId : undefined;
  if (routeId) cfg.route_id = routeId;
  if (serviceId) cfg.service_id = serviceId;
  if (p.instanceName !== undefined) cfg.plugin_instance_name = p.instanceName;
  cfg.__plugin_id = p.id;
  cfg.__ws_id = ids.workspaceId;
  // DAO:cache_key(name, route_id, service_id, consumer_id, nil, ws_id)
  cfg.__key__ = `plugins:${p.name}:${routeId ?? ''}:${serviceId ?? ''}:::${ids.workspaceId}`;
  cfg.__seq__ = seq;
  return cfg;
}

export function validateConfig(fields: SchemaFields, user: Record<string, unknown>): Record<string, unknown> {
  return storedConfig(fields, user);
}

export function newPluginId(): string {
  return randomUUID();
}

interface RunningInstance {
  id?: number;
  seq: unknown;
  pluginId: unknown;
  starting?: Promise<void>;
}

/**
 * One nginx worker's instance table (plugin.lua `running_instances`: module scope, so one
 * per worker process), reached over that worker's own connections.
 */
export class InstanceManager {
  private running = new Map<string, RunningInstance>();
  starts = 0;
  closes = 0;

  constructor(
    private readonly log: (level: 'err' | 'warn', msg: string, plugin?: string) => void,
    readonly worker = 0,
  ) {}

  /** The instance id for this plugin's current config, starting one if needed. */
  async getInstanceId(p: LoadedPlugin): Promise<number> {
    const key = p.id; // kong.plugin.get_id()
    let info = this.running.get(key);
    // Another request is starting it: Kong polls every 100 ms (up to 10 s); we wait on it.
    while (info && info.id === undefined && info.starting) {
      await info.starting.catch(() => {});
      info = this.running.get(key);
    }
    if (info && info.id !== undefined && info.seq === p.conf.__seq__ && info.pluginId === key) return info.id;

    const oldId = info?.id;
    let done!: () => void;
    const claim: RunningInstance = { seq: p.conf.__seq__, pluginId: key, starting: new Promise<void>((r) => (done = r)) };
    this.running.set(key, claim);
    try {
      this.starts++;
      claim.id = await p.server.startInstance(p.name, cjsonEncode(p.conf), p.server.pool(this.worker));
    } catch (e) {
      this.log('err', `starting instance: ${(e as Error).message}`, p.name);
      if (this.running.get(key) === claim) this.running.delete(key);
      throw e;
    } finally {
      claim.starting = undefined;
      done();
    }
    if (oldId !== undefined) {
      // There was a previous instance with the same key: close it (errors ignored).
      this.closes++;
      await p.server.closeInstance(oldId, p.server.pool(this.worker)).catch(() => {});
    }
    return claim.id;
  }

  /** reset_instances_for_plugin: forget every instance of that plugin, every route's (no CloseInstance). */
  reset(pluginName: string, plugins: LoadedPlugin[]) {
    for (const p of plugins) if (p.name === pluginName) this.running.delete(p.id);
  }

  current(p: LoadedPlugin): number | undefined {
    return this.running.get(p.id)?.id;
  }
}
