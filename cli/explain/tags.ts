// `tandem explain`: what each tagging experiment (spec.experiments) gave the request's
// key, one line each, in the order the x-tandem-experiments header lists them.
import { RULE_REASON0, reasonName, type TagAssignment } from "../../core-js/tandem-core";

export function tagLines(tags: TagAssignment[]): string[] {
  return tags.map((t, i) => {
    const why = t.reason >= RULE_REASON0
      ? `experiments[${i}].rules[${t.reason - RULE_REASON0}] matched`
      : `${reasonName(t.reason)}, bucket ${t.bucket} of 10000`;
    return `${i === 0 ? "tags:    " : "         "} ${t.name}=${t.variant} (${why})`;
  });
}
