// Validates Kubernetes manifests the way the API server would accept them: Istio and Kong
// kinds against their CRD schemas (test/support/crds, from Istio 1.30.3 and the Kong Ingress
// Controller 3.5 CRDs; HTTPRoute from a schema reduced from Gateway API v1.4.1's), core kinds with kubernetes-models; unknown fields are errors (strict
// field validation), metadata.name must be a DNS-1123 subdomain (labels for the kinds that
// need one), and the CEL rules tandem's manifests could break are checked by hand.
import Ajv, { type ValidateFunction } from "ajv";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";

type Obj = Record<string, unknown>;

// A structural schema with `properties` is closed unless it says otherwise.
function closed(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(closed);
  if (!s || typeof s !== "object") return s;
  const o: Obj = {};
  for (const [k, v] of Object.entries(s as Obj)) o[k] = k === "properties" ? Object.fromEntries(Object.entries(v as Obj).map(([pk, pv]) => [pk, closed(pv)])) : closed(v);
  if (o.properties && o.additionalProperties === undefined && !o["x-kubernetes-preserve-unknown-fields"]) o.additionalProperties = false;
  return o;
}

// Formats (int32, duration, ...) are not checked: the API server checks them, ajv has no such formats.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const schemas = new Map<string, ValidateFunction>();
const dir = join(__dirname, "crds");
for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
  const crd = JSON.parse(readFileSync(join(dir, f), "utf8")) as { group: string; version: string; kind: string; schema: Obj };
  const schema = closed(crd.schema) as Obj;
  // metadata is ObjectMeta, checked below
  (schema.properties as Obj).metadata = { type: "object" };
  // Istio's CRD schemas leave out the type fields every object has.
  (schema.properties as Obj).apiVersion = { type: "string" };
  (schema.properties as Obj).kind = { type: "string" };
  schemas.set(`${crd.group}/${crd.version}/${crd.kind}`, ajv.compile(schema));
}

const CORE: Record<string, new (o: Obj) => { validate(): void }> = {
  "v1/Secret": Secret as never, "v1/Service": Service as never, "v1/ConfigMap": ConfigMap as never, "apps/v1/Deployment": Deployment as never,
  "networking.k8s.io/v1/Ingress": Ingress as never,
};

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isLabel = (s: string) => s.length <= 63 && LABEL.test(s);
const isSubdomain = (s: string) => s.length <= 253 && s.split(".").every(isLabel);

// A Gateway API duration (1h2m3s4ms), in ms.
function gatewayMs(s: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  return [...s.matchAll(/([0-9]+)(ms|h|m|s)/g)].reduce((n, m) => n + Number(m[1]) * unit[m[2]], 0);
}

export function kinds(): string[] {
  return [...schemas.keys(), ...Object.keys(CORE)];
}

// One problem per line; [] when the API server would take the object.
export function manifestProblems(doc: unknown): string[] {
  if (!doc || typeof doc !== "object") return ["not an object"];
  const d = doc as Obj;
  const id = `${d.apiVersion}/${d.kind}`;
  const md = d.metadata as Obj | undefined;
  const name = typeof md?.name === "string" ? md.name : "";
  const where = `${d.kind} ${name}`;
  const out: string[] = [];
  if (!isSubdomain(name)) out.push(`${where}: metadata.name is not a DNS-1123 subdomain`);
  // Services and Istio config names are DNS-1123 labels (Service: IsDNS1035Label, stricter still).
  if (["v1/Service", "networking.istio.io/v1/VirtualService", "networking.istio.io/v1/DestinationRule"].includes(id) && !isLabel(name)) out.push(`${where}: metadata.name is not a DNS-1123 label`);
  if (md?.namespace !== undefined && !isLabel(String(md.namespace))) out.push(`${where}: metadata.namespace is not a DNS-1123 label`);
  const core = CORE[id];
  if (core) {
    try { new core(d).validate(); } catch (e) { out.push(`${where}: ${(e as Error).message}`); }
    return out;
  }
  const v = schemas.get(id);
  if (!v) return [...out, `${where}: no schema for ${id}`];
  if (!v(d)) for (const e of v.errors ?? []) out.push(`${where}: ${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${e.params.additionalProperty})` : ""}`);
  // CEL rules (x-kubernetes-validations) of the CRDs, as written there.
  if (d.kind === "KongPlugin") {
    if ("config" in d && "configFrom" in d) out.push(`${where}: Using both config and configFrom fields is not allowed.`);
    if ("configFrom" in d && "configPatches" in d) out.push(`${where}: Using both configFrom and configPatches fields is not allowed.`);
  }
  if (d.kind === "WasmPlugin" || d.kind === "TrafficExtension") {
    const s = (d.spec ?? {}) as Obj;
    if (["selector", "targetRef", "targetRefs"].filter((k) => k in s).length > 1) out.push(`${where}: only one of targetRefs or selector can be set`);
  }
  if (d.kind === "HTTPRoute") {
    const rules = (((d.spec as Obj)?.rules ?? []) as Obj[]);
    const names = rules.map((r) => r.name).filter((n) => n !== undefined);
    if (new Set(names).size !== names.length) out.push(`${where}: rule names must be unique within a Route`);
    if (rules.reduce((n, r) => n + ((r.matches as unknown[] | undefined)?.length ?? 1), 0) > 128) out.push(`${where}: the total number of matches across all rules in a route must be less than 128`);
    for (const r of rules) {
      for (const b of (r.backendRefs ?? []) as Obj[]) if ((b.group ?? "") === "" && (b.kind ?? "Service") === "Service" && b.port === undefined) out.push(`${where}: Must have port for Service reference (${b.name})`);
      const t = r.timeouts as { request?: string; backendRequest?: string } | undefined;
      if (t?.request && t.backendRequest && gatewayMs(t.request) !== 0 && gatewayMs(t.backendRequest) > gatewayMs(t.request)) out.push(`${where}: backendRequest timeout cannot be longer than request timeout`);
    }
  }
  if (d.kind === "DestinationRule") {
    for (const s of ((d.spec as Obj)?.subsets ?? []) as Obj[]) if (!isLabel(String(s.name))) out.push(`${where}: subset ${s.name} is not a DNS-1123 label`);
  }
  return out;
}
