// The request of one playground user: inside the policy's scope (its first host and
// path prefix) and carrying the user's id in the policy's first header, query or cookie
// key source, so the self-check and the printed curl lines reach the experiment as a
// returning user. Without a key source the playground can set (`ip` only) every request
// is the same loopback client.

import type { PolicyPlan } from "../../core-js/tandem-core";

// The slice of the core's plan a user's request is built from (core-js PolicyPlan:
// the key sources with their defaults applied, the scope): no default is repeated here.
export type ExperimentShape = Pick<PolicyPlan, "sources" | "scope">;

export interface UserRequest { path: string; headers: Record<string, string>; keyNote: string }

export type UserKey = { kind: "header" | "query" | "cookie"; name: string } | null;

export function userKey(ex: ExperimentShape): UserKey {
  for (const kind of ["header", "query", "cookie"] as const) {
    const s = ex.sources.find((x) => x.kind === kind);
    if (s) return { kind, name: s.name };
  }
  return null;
}

// A host that matches the scope's first entry ("*.beta.example.com" -> "www.beta.example.com").
function scopeHost(ex: ExperimentShape): string | null {
  const h = ex.scope.hosts[0];
  return h === undefined ? null : h.startsWith("*.") ? "www." + h.slice(2) : h;
}

export function userRequest(ex: ExperimentShape, id: string | null): UserRequest {
  let path = ex.scope.pathPrefixes[0] ?? "/";
  const headers: Record<string, string> = {};
  const host = scopeHost(ex);
  if (host !== null) headers.host = host;
  const key = userKey(ex);
  let keyNote = "no header, query or cookie key source: every request is the same client IP";
  if (key !== null) {
    keyNote = `${key.kind} ${key.name}`;
    if (id !== null) {
      if (key.kind === "header") headers[key.name] = id;
      else if (key.kind === "cookie") headers.cookie = `${key.name}=${id}`;
      else path += `?${encodeURIComponent(key.name)}=${encodeURIComponent(id)}`;
    }
  }
  return { path, headers, keyNote };
}

// The request of user `id` as curl arguments for a POSIX shell, double-quoted. `port`
// and `id` are shell text put in as they are (`$p`, `u$i`); the rest is escaped.
const ID = "tandem0id0";
export function curlArgs(ex: ExperimentShape, port: string, id: string | null): string {
  const r = userRequest(ex, id === null ? null : ID);
  const esc = (s: string) => s.replace(/["\\$`]/g, "\\$&").split(ID).join(id ?? "");
  const url = `"http://127.0.0.1:${port}${esc(r.path)}"`;
  return [url, ...Object.entries(r.headers).map(([k, v]) => `-H "${esc(`${k}: ${v}`)}"`)].join(" ");
}
