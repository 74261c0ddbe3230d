// Linear-time regular expressions for rule matching: an RE2-syntax subset compiled at
// configure time (parser.ts -> program.ts) and run by a Thompson NFA simulation (vm.ts),
// memoized as a bounded lazy DFA (dfa.ts), over bytes, behind a literal prefilter
// (prefilter.ts) that answers most non-matching inputs without the automaton.
//
//   const r = compileRegex(src, ignoreCase);
//   if (r.regex === null) reject(r.error + " at offset " + r.offset.toString());
//   ... per request: (r.regex as CompiledRegex).search(ptr, len)
//
// AssemblyScript has no union types, so the result is one object holding either the
// compiled regex or the error (like configureExperiment's settings / error).
import { utf8 } from "../text/bytes";
import { Parser, startAnchored } from "./parser";
import { Compiler, MAX_INSTRUCTIONS } from "./program";
import { Matcher } from "./dfa";
import { prefilter } from "./prefilter";
import { containsBytes } from "../text/scan";

export class CompiledRegex {
  // literals one of which every match contains (./prefilter.ts), or null
  lits: StaticArray<StaticArray<u8>> | null = null;

  constructor(private matcher: Matcher, public programLength: i32) {}

  // Unanchored search of the `len` bytes at `ptr` (like RE2::PartialMatch): true when
  // the pattern matches anywhere. O(programLength x len); allocates nothing. Not
  // reentrant (the thread lists are per regex): requests run one at a time per VM.
  search(ptr: usize, len: i32): bool {
    const lits = this.lits;
    if (lits !== null) {
      let seen = false;
      for (let i = 0; i < lits.length && !seen; i++) {
        const l = unchecked(lits[i]);
        seen = containsBytes(ptr, len, changetype<usize>(l), l.length, false);
      }
      if (!seen) return false;
    }
    return this.matcher.search(ptr, len);
  }

  // Tests only: run every search on the NFA alone (the DFA cache and the prefilter off),
  // the reference the optimized search is compared with.
  set nfaOnly(on: bool) { this.matcher.useDfa = !on; if (on) this.lits = null; }
}

export class RegexCompile {
  regex: CompiledRegex | null = null;
  error: string = "";     // names the construct, e.g. "lookaround is not supported"
  offset: i32 = -1;       // byte offset in the pattern's UTF-8
}

// ignoreCase folds ASCII letters only (a-z / A-Z); other scripts compare exactly.
export function compileRegex(src: string, ignoreCase: bool): RegexCompile {
  const b = utf8(src);
  return compileRegexBytes(changetype<usize>(b), b.length, ignoreCase);
}

// The same from UTF-8 bytes in memory (copied; the caller may reuse its buffer).
export function compileRegexBytes(ptr: usize, len: i32, ignoreCase: bool): RegexCompile {
  const res = new RegexCompile();
  const p = new StaticArray<u8>(len);
  memory.copy(changetype<usize>(p), ptr, len);
  const parser = new Parser(p, len, ignoreCase);
  const root = parser.parse();
  if (root === null) { res.error = parser.error; res.offset = parser.errorAt; return res; }
  const c = new Compiler();
  if (c.size(root) + 1 > MAX_INSTRUCTIONS) {
    res.error = "pattern too large (over " + MAX_INSTRUCTIONS.toString() + " instructions after expanding repetitions)";
    res.offset = 0;
    return res;
  }
  const anchored = startAnchored(root);
  const prog = c.program(root, anchored);
  const re = new CompiledRegex(new Matcher(prog), prog.length);
  re.lits = prefilter(root, anchored);
  res.regex = re;
  return res;
}
