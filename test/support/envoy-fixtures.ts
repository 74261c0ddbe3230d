// The Envoy harness tests' filters (test/fixtures/envoy/*.ts) compiled with the SDK into
// a temporary directory of the test file's own, removed by `remove()` in its afterAll
// (one asc run a fixture, a few seconds each: compiled once per test file, in beforeAll).
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { compileAssemblyScript } from '../../sim/envoy/index.js';

const FIXTURES = path.resolve(__dirname, '../fixtures/envoy');

export interface CompiledFixtures {
  /** fixture name (file name without .ts) -> path of its .wasm */
  wasm: Record<string, string>;
  remove(): Promise<void>;
}

// `tag` names the temporary directory (tandem-envoy-<tag>-*), so a leftover tells its test.
export async function compileFixtures(tag: string, names: string[]): Promise<CompiledFixtures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `tandem-envoy-${tag}-`));
  try {
    const built = await Promise.all(names.map((n) => compileAssemblyScript(path.join(FIXTURES, `${n}.ts`), path.join(dir, `${n}.wasm`))));
    return { wasm: Object.fromEntries(names.map((n, i) => [n, built[i]])), remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
