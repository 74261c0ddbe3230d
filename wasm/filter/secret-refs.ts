// Secrets by reference. A secret field of a plugin configuration (the experiment's
// override.secret, a fault's control.secret) may hold "{vault://env/<name>}" instead of
// the secret: Kong's env vault syntax (kong/vaults/env/init.lua: <name> upper-cased,
// '-' -> '_'), so `tandem render` writes the same reference for Kong (which resolves it
// itself: the fields are referenceable) and for Envoy, and no manifest holds the secret.
// Envoy has no vault: the filter puts the VM's environment variable in before the core
// reads the configuration (./host-env.ts), at configure only.
import { jsonText } from "../core/json/write";
import { envValue } from "./host-env";
import { pluginConfiguration } from "./host";
import { ConfigRejections } from "./metrics";

const REF_START = "\"{vault://env/";
const REF_END = "}\"";
// The refusal (a constant users can search for); the reference and the variable follow.
export const SECRET_REF_UNSET = "secret reference: the proxy has no environment variable for ";

export class Resolved {
  constructor(public text: string, public error: string | null) {}
}

// Kong's env vault name of a reference: upper case, '-' -> '_' (ASCII only: a reference
// holds nothing else, and String#toUpperCase would link Unicode case tables, ~7 KB).
function envName(ref: string): string {
  const out = new StaticArray<u16>(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    unchecked(out[i] = <u16>(c == 0x2d ? 0x5f : c >= 0x61 && c <= 0x7a ? c - 0x20 : c));
  }
  return String.UTF16.decodeUnsafe(changetype<usize>(out), <usize>ref.length << 1);
}

function isRefChar(c: i32): bool {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f;
}

// The configuration text with every reference replaced by its JSON-quoted value. A text
// without references comes back as it is (one indexOf).
export function resolveSecretRefs(text: string): Resolved {
  let at = text.indexOf(REF_START);
  if (at < 0) return new Resolved(text, null);
  let out = "";
  let from = 0;
  while (at >= 0) {
    let i = at + REF_START.length;
    while (i < text.length && isRefChar(text.charCodeAt(i))) i++;
    if (i == at + REF_START.length || text.indexOf(REF_END, i) != i) {
      at = text.indexOf(REF_START, at + 1);   // not a whole reference: left to the core
      continue;
    }
    const ref = text.substring(at + REF_START.length, i);
    const name = envName(ref);
    const value = envValue(name);
    if (value === null) return new Resolved(text, SECRET_REF_UNSET + name + " ({vault://env/" + ref + "})");
    out += text.substring(from, at) + jsonText(value);
    from = i + REF_END.length;
    at = text.indexOf(REF_START, from);
  }
  return new Resolved(out + text.substring(from), null);
}

// The plugin configuration with its secret references resolved, for a filter's
// onConfigure; null when one names a variable the proxy lacks, counted and logged with
// the filter's own rejection text (Envoy then keeps the previous configuration).
export function resolvedConfiguration(size: u32, rejections: ConfigRejections, rejected: string): string | null {
  const refs = resolveSecretRefs(pluginConfiguration(size));
  const unset = refs.error;
  if (unset === null) return refs.text;
  rejections.refuse(rejected, unset);
  return null;
}
