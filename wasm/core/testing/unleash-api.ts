// Test entry for `hash: unleash` at the byte level (../unleash.ts): keys as raw bytes,
// invalid UTF-8 included, which the production ABI (../api.ts) only takes as facts.
// test/core/unleash.test.ts compiles it with the "core" target. Not shipped.
import { UnleashHash } from "../hash/unleash";

let arena = new StaticArray<u8>(65536);
const hashes = new Array<UnleashHash>(0);

export function unleash_arena(size: i32): usize {
  if (arena.length < size) arena = new StaticArray<u8>(size + (size >> 1));
  return changetype<usize>(arena);
}

// groupId = arena[0..len) as UTF-8. Returns a handle.
export function unleash_new(len: i32): i32 {
  hashes.push(new UnleashHash(String.UTF8.decodeUnsafe(changetype<usize>(arena), <usize>len)));
  return hashes.length - 1;
}

// The bucket (basis points) of the key arena[0..len).
export function unleash_bucket(h: i32, len: i32): i32 {
  return hashes[h].bucket(changetype<usize>(arena), len);
}

// The same key `times` times (allocation check under the stub runtime).
export function unleash_bucket_repeat(h: i32, len: i32, times: i32): i32 {
  let x = 0;
  for (let i = 0; i < times; i++) x ^= hashes[h].bucket(changetype<usize>(arena), len);
  return x;
}

export function unleash_memory_bytes(): i32 {
  return <i32>(memory.size() << 16);
}
