// Settings of A/B rules (spec.experiment.rules), built once per configuration.
import { CompiledRegex } from "./regex/index";

export const enum MatchOp { Exact = 0, Prefix = 1, Suffix = 2, Contains = 3, Regex = 4, Present = 5 }
export const enum Field { Header = 0, Cookie = 1, Query = 2, Path = 3, Method = 4, Host = 5 }

export class StringMatch {
  op: MatchOp = MatchOp.Exact;
  value: StaticArray<u8> = new StaticArray<u8>(0);  // lowercased when ignoreCase
  present: bool = true;                              // for MatchOp.Present
  ignoreCase: bool = false;
  invert: bool = false;
  regex: CompiledRegex | null = null;
}

export class FieldMatch {
  name: StaticArray<u8> = new StaticArray<u8>(0);  // header (lowercase) / cookie / query name
  slot: i32 = -1;                                    // the fact this field is read from
  constructor(public field: Field, public m: StringMatch) {}
}

export class Rule {
  matches: StaticArray<FieldMatch> = new StaticArray<FieldMatch>(0);
  variant: i32 = -1;                                 // a fixed variant, or -1: split below
  splitVariants: StaticArray<i32> = new StaticArray<i32>(0);
  splitUpperBp: StaticArray<i32> = new StaticArray<i32>(0);
}
