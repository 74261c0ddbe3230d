// Kubernetes names for what `tandem render` writes. The API server refuses an object whose
// metadata.name is not a DNS-1123 subdomain, and Istio refuses a DestinationRule subset name
// that is not a DNS-1123 label (Kubernetes apimachinery `validation.IsDNS1123Label` /
// `IsDNS1123Subdomain`; Istio `pkg/config/validation` validateSubset). render checks every
// name it writes, before writing anything, and refuses with the field that made the name.
import { InvalidPolicy } from "../validate";

// A policy that is valid for the gateways but has a name Kubernetes cannot hold. Exit 1 like
// an invalid policy (cli/main.ts prints InvalidPolicy's message alone).
export class RenderRefusal extends InvalidPolicy {}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every((l) => l.length > 0 && LABEL.test(l));
}

export const DNS_LABEL_RULE = "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
export const DNS_SUBDOMAIN_RULE = "must be a DNS-1123 subdomain (DNS-1123 labels joined by '.', at most 253 characters)";

// A label key: [prefix/]name, the prefix a DNS-1123 subdomain, the name at most 63 of
// [A-Za-z0-9-_.] with alphanumerics at both ends (apimachinery IsQualifiedName).
export function isLabelKey(s: string): boolean {
  const i = s.indexOf("/");
  const name = i < 0 ? s : s.slice(i + 1);
  return (i < 0 || isDnsSubdomain(s.slice(0, i))) && name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

export function requireLabelKey(what: string, key: string): string {
  if (!isLabelKey(key)) throw new RenderRefusal(`${what}: must be a Kubernetes label key ([prefix/]name, name at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric), got ${JSON.stringify(key)}`);
  return key;
}

// `what` names the field the name came from, as the core names fields.
export function requireLabel(what: string, name: string, why = ""): string {
  if (!isDnsLabel(name)) throw new RenderRefusal(`${what}: ${DNS_LABEL_RULE}${why}, got ${JSON.stringify(name)}`);
  return name;
}

export function requireSubdomain(what: string, name: string): string {
  if (!isDnsSubdomain(name)) throw new RenderRefusal(`${what}: ${DNS_SUBDOMAIN_RULE}, got ${JSON.stringify(name)}`);
  return name;
}

// Resource names are `<policy>-<suffix>`; the policy name is checked as it will be used.
export function resourceName(policyName: string, suffix: string): string {
  const name = suffix === "" ? policyName : `${policyName}-${suffix}`;
  if (!isDnsLabel(name)) {
    const why = suffix === "" ? "" : ` with the suffix "-${suffix}"`;
    throw new RenderRefusal(`metadata.name: cannot name Kubernetes objects: ${DNS_LABEL_RULE}${why}, got ${JSON.stringify(policyName)}`);
  }
  return name;
}
