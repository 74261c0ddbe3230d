// Settings of A/B rules (spec.experiment.rules), built once per configuration.
import { CompiledRegex } from "../regex/index";

export const enum MatchOp { Exact = 0, Prefix = 1, Suffix = 2, Contains = 3, Regex = 4, Present = 5 }
// How a condition's value is read from its fact. Header: the fact's bytes as they are
// (also a path prefix that cannot reach the query, config/rules.ts).
export const enum Field { Header = 0, Cookie = 1, Query = 2, Path = 3, Method = 4, Host = 5 }

// Shared empty arrays for the rules and conditions without one: fewer objects for the
// collector to mark on each collection (the filter collects every 64 streams).
const NO_BYTES = new StaticArray<u8>(0);
const NO_I32 = new StaticArray<i32>(0);

export class StringMatch {
  op: MatchOp = MatchOp.Exact;
  value: StaticArray<u8> = NO_BYTES;                 // lowercased when ignoreCase
  present: bool = true;                              // for MatchOp.Present
  ignoreCase: bool = false;
  invert: bool = false;
  regex: CompiledRegex | null = null;
}

export class FieldMatch {
  name: StaticArray<u8> = NO_BYTES;                  // header (lowercase) / cookie / query name
  slot: i32 = -1;                                    // the fact this field is read from
  constructor(public field: Field, public m: StringMatch) {}
}

export class Rule {
  matches: StaticArray<FieldMatch> = new StaticArray<FieldMatch>(0);
  variant: i32 = -1;                                 // a fixed variant, or -1: split below
  splitVariants: StaticArray<i32> = NO_I32;
  splitUpperBp: StaticArray<i32> = NO_I32;
}
