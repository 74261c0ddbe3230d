// :path as Envoy's HTTP connection manager rewrites it before any filter runs
// (source/common/http/conn_manager_utility.cc ConnectionManagerUtility::maybeNormalizePath,
// called from conn_manager_impl.cc ActiveStream::decodeHeaders before the filter chain is
// created; a Reject there is a local reply 400 with an empty body, details
// "path_normalization_failed", that no filter sees):
//   1. a '#' in the path: Reject (runtime envoy.reloadable_features.http_reject_path_with_fragment, default on);
//   2. path_with_escaped_slashes_action UNESCAPE_AND_FORWARD: %2F/%2f -> '/', %5C/%5c -> '\' in
//      the path part (path_utility.cc PathUtil::unescapeSlashes; the query is left alone);
//   3. normalize_path: PathTransformer::rfcNormalize = googleurl url::CanonicalizePath
//      (url/url_canon_path.cc DoPartialPathInternal) on the part before the first '?':
//      '.' and '%2e' segments resolved (a '..' never climbs above the root), '\' becomes '/',
//      an escape of an unreserved character (A-Z a-z 0-9 - . _ ~) is decoded, other escapes
//      are kept exactly as sent (hex case too), characters outside the path set are
//      escaped (%XX, upper-case hex); an escape of NUL fails (Envoy's path_utility_test
//      InvalidPaths: "/xyz/.%00../abc" is rejected);
//   4. merge_slashes: runs of '/' in the path part become one (PathTransformer::mergeSlashes).
// Not verified against the googleurl revision Envoy pins: current Chromium guards the
// unreserved-escape decoding behind its DontDecodeAsciiPercentEncodedURLPath feature; this
// model decodes (the table's UNESCAPE entries). The core decodes such escapes itself
// (wasm/core/request/path.ts), so a decision does not depend on which is right.
// Istio's meshConfig.pathNormalization picks these (pilot/pkg/networking/core/listener_builder.go
// buildHTTPConnectionManager): NONE = none; BASE (Istio's default) = 3; MERGE_SLASHES = 3+4;
// DECODE_AND_MERGE_SLASHES = 2+3+4. Envoy's own default (normalize_path unset) is NONE.

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

const HEX = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// Characters googleurl's kPathCharLookup marks ESCAPE (printable ASCII; controls, space,
// DEL and bytes >= 0x80 too).
const ESCAPED = new Set([...'"#<>?`{|}^']);

/** The new :path, or null when Envoy rejects the request (400 path_normalization_failed). */
export function normalizePath(target: string, mode: PathNormalization): string | null {
  if (mode === 'NONE') return target;
  const q = target.indexOf('?');
  let path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  if (path.includes('#')) return null;
  if (mode === 'DECODE_AND_MERGE_SLASHES') path = path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  const canon = canonicalize(path);
  if (canon === null) return null;
  const merged = mode === 'BASE' ? canon : mergeSlashes(canon);
  return merged + query;
}

// A dot at `i` ('.' or '%2e'): its length in the input, else 0 (url_canon_internal IsDot).
function dotAt(s: string, i: number): number {
  if (s[i] === '.') return 1;
  if (s[i] === '%' && s[i + 1] === '2' && (s[i + 2] === 'e' || s[i + 2] === 'E')) return 3;
  return 0;
}

const isSlash = (c: string | undefined) => c === '/' || c === '\\';

function canonicalize(p: string): string | null {
  let out = p.startsWith('/') || p.startsWith('\\') ? '' : '/';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    const dot = dotAt(p, i);
    if (dot > 0) {
      if (out.endsWith('/')) {
        const after = i + dot;
        if (after === p.length || isSlash(p[after])) {                 // "." segment
          i = after === p.length ? after - 1 : after;
          continue;
        }
        const dot2 = dotAt(p, after);
        if (dot2 > 0 && (after + dot2 === p.length || isSlash(p[after + dot2]))) {   // ".." segment
          out = backUp(out);
          i = after + dot2 === p.length ? after + dot2 - 1 : after + dot2;
          continue;
        }
      }
      out += '.';
      i += dot - 1;
    } else if (c === '\\') {
      out += '/';
    } else if (c === '%') {
      const hex = p.slice(i + 1, i + 3);
      if (!HEX.test(hex)) { out += '%'; continue; }   // invalid escape: passed through
      const v = parseInt(hex, 16);
      if (v === 0) return null;
      const ch = String.fromCharCode(v);
      out += UNRESERVED.test(ch) ? ch : '%' + hex;
      i += 2;
    } else {
      const code = p.charCodeAt(i);
      out += code <= 0x20 || code >= 0x7f || ESCAPED.has(c) ? '%' + code.toString(16).toUpperCase().padStart(2, '0') : c;
    }
  }
  return out;
}

// BackUpToPreviousSlash: `out` ends with '/'; drop its last segment, never the root.
function backUp(out: string): string {
  if (out.length <= 1) return out;
  const prev = out.lastIndexOf('/', out.length - 2);
  return out.slice(0, prev + 1);
}

function mergeSlashes(p: string): string {
  if (!p.includes('//')) return p;
  const lead = p.startsWith('/') ? '/' : '';
  const trail = p.endsWith('/') ? '/' : '';
  return lead + p.split('/').filter((s) => s !== '').join('/') + trail;
}
