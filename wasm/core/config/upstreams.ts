// spec.upstreams (issue 9.9): a variant's `upstream` is a gateway-neutral name; this
// section gives each gateway its own name for it, so one policy drives a Kong Ingress
// Controller cluster and an Istio mesh:
//   upstreams:
//     api-v2:                                   # the neutral name: a DNS-1123 label
//       address: checkout-v2:8080               # local Envoy cluster / Kong DB-less target
//       kong: checkout-v2.shop.80.svc           # the Kong Upstream (KIC: <svc>.<ns>.<port>.svc)
//       istio: { subset: v2, labels: { version: v2 } }   # the DestinationRule subset
// Only `tandem render` reads it (the gateways' plugin configs carry their own names), so it
// is validated with the whole policy; every name it holds is checked here, once, with the
// same field-path messages as every other field.
import { JType, JValue } from "../json/json";
import { Reader, join, quote } from "./reader";
import { E_ADDRESS, E_DNS_LABEL, E_KONG_UPSTREAM, E_LABEL_KEY, E_LABEL_VALUE, E_NOT_EMPTY, E_STRING, E_UNIQUE, ruleText, E_OBJECT } from "./errors";

export const UPSTREAMS_SECTION = "upstreams";
const UPSTREAM_KEYS: StaticArray<string> = ["address", "kong", "istio"];
const ISTIO_KEYS: StaticArray<string> = ["subset", "labels"];

function alnum(c: i32, upper: bool): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (upper && c >= 0x41 && c <= 0x5a);
}

// DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 (Kubernetes IsDNS1123Label).
export function isDnsLabel(s: string, upper: bool = false): bool {
  if (s.length == 0 || s.length > 63) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!alnum(c, upper) && !(c == 0x2d && i > 0 && i < s.length - 1)) return false;
  }
  return true;
}

// Host name: DNS labels joined by '.', at most 253; Kong compares ignoring case.
function isHostName(s: string): bool {
  if (s.length == 0 || s.length > 253) return false;
  const parts = s.split(".");
  for (let i = 0; i < parts.length; i++) if (!isDnsLabel(parts[i], true)) return false;
  return true;
}

// Label name or value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends
// (Kubernetes IsQualifiedName / IsValidLabelValue); a value may be empty.
function isLabelPart(s: string, allowEmpty: bool): bool {
  if (s.length == 0) return allowEmpty;
  if (s.length > 63) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const inner = c == 0x2d || c == 0x5f || c == 0x2e;
    if (!alnum(c, true) && !(inner && i > 0 && i < s.length - 1)) return false;
  }
  return true;
}

function isLabelKey(s: string): bool {
  const slash = s.indexOf("/");
  if (slash < 0) return isLabelPart(s, false);
  const prefix = s.substring(0, slash);
  return isHostName(prefix) && prefix.toLowerCase() == prefix && isLabelPart(s.substring(slash + 1), false);
}

function isAddress(s: string): bool {
  const i = s.lastIndexOf(":");
  if (i <= 0 || i == s.length - 1 || s.length - i - 1 > 5) return false;
  if (!isHostName(s.substring(0, i))) return false;
  let port = 0;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  return port >= 1 && port <= 65535;
}

// spec.upstreams, the object under it; every name checked.
export function checkUpstreams(r: Reader, v: JValue): void {
  const path = UPSTREAMS_SECTION;
  if (v.type != JType.Obj) { r.failRule(path, E_OBJECT, v); return; }
  if (v.keys.length == 0) { r.failRule(path, E_NOT_EMPTY, null); return; }
  const subsets = new Array<string>(0);
  for (let i = 0; i < v.keys.length && !r.failed; i++) {
    const name = v.keys[i];
    const p = join(path, name);
    if (!isDnsLabel(name)) { r.failText(p, ruleText(E_DNS_LABEL) + ", got " + quote(name)); return; }
    const u = v.vals[i];
    if (!r.object(u, p, UPSTREAM_KEYS)) return;
    const addr = r.str(u, "address", p, "");
    if (r.failed) return;
    if (r.field(u, "address") !== null && !isAddress(addr as string)) { r.failRule(join(p, "address"), E_ADDRESS, u.get("address")); return; }
    const kong = r.str(u, "kong", p, "");
    if (r.failed) return;
    if (r.field(u, "kong") !== null && !isHostName(kong as string)) { r.failRule(join(p, "kong"), E_KONG_UPSTREAM, u.get("kong")); return; }
    const istio = r.obj(u, "istio", p, ISTIO_KEYS);
    if (r.failed) return;
    let subset = name;
    if (istio !== null) {
      const ip = join(p, "istio");
      subset = r.str(istio, "subset", ip, name) as string;
      if (r.failed) return;
      if (!isDnsLabel(subset)) { r.failRule(join(ip, "subset"), E_DNS_LABEL, istio.get("subset")); return; }
      const labels = r.field(istio, "labels");
      if (labels !== null) {
        const lp = join(ip, "labels");
        if (labels.type != JType.Obj) { r.failRule(lp, E_OBJECT, labels); return; }
        if (labels.keys.length == 0) { r.failRule(lp, E_NOT_EMPTY, null); return; }
        for (let j = 0; j < labels.keys.length; j++) {
          const k = labels.keys[j];
          if (!isLabelKey(k)) { r.failText(join(lp, k), ruleText(E_LABEL_KEY) + ", got " + quote(k)); return; }
          const lv = labels.vals[j];
          if (lv.type != JType.Str) { r.failRule(join(lp, k), E_STRING, lv); return; }
          if (!isLabelPart(lv.s, true)) { r.failRule(join(lp, k), E_LABEL_VALUE, lv); return; }
        }
      }
    }
    // Two upstreams cannot be one subset: the DestinationRule would hold it twice.
    if (subsets.includes(subset)) { r.failText(join(p, "istio.subset"), ruleText(E_UNIQUE) + ", got " + quote(subset)); return; }
    subsets.push(subset);
  }
}
