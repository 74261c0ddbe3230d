// Compiles an AssemblyScript proxy-wasm module with the installed `asc`, the way the brief
// measured it works for @solo-io/proxy-runtime 0.1.8 under AssemblyScript 0.28:
// `--path <shims>` (rt/index-full.ts, bindings/wasi_unstable.ts) and
// `--use abort=abort_proc_exit`. Import the SDK as "@solo-io/proxy-runtime/assembly" — asc 0.28
// resolves packages as <pkg>/<file>.ts and no longer falls back to the package's assembly/ dir.

import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

// Paths are resolved from the repository root (the cwd vitest runs in), so this file works
// whether the project compiles to ESM or CommonJS. TANDEM_ROOT overrides it.
const root = () => process.env.TANDEM_ROOT ?? process.cwd();
export const DEFAULT_SHIMS = 'test/fixtures/envoy/shims';

export interface AscOptions {
  shims?: string;
  /** -O3 by default; false for a debug build. */
  optimize?: boolean;
  extraArgs?: string[];
}

export async function compileAssemblyScript(entry: string, outFile: string, opts: AscOptions = {}): Promise<string> {
  const ascBin = path.resolve(root(), 'node_modules/assemblyscript/bin/asc.js');
  await mkdir(path.dirname(outFile), { recursive: true });
  const args = [
    ascBin,
    entry,
    '--path',
    path.resolve(root(), opts.shims ?? DEFAULT_SHIMS),
    '--use',
    'abort=abort_proc_exit',
    ...(opts.optimize === false ? ['--debug'] : ['-O3']),
    '-o',
    outFile,
    ...(opts.extraArgs ?? []),
  ];
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root() }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`asc failed for ${entry}:\n${stderr}`));
      else resolve();
    });
  });
  return outFile;
}
