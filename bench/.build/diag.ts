const counts: Record<string, number> = {};
const Orig = WebAssembly.Instance;
(WebAssembly as any).Instance = function (mod: WebAssembly.Module, imports: any) {
  for (const m of Object.keys(imports ?? {})) for (const k of Object.keys(imports[m])) {
    const f = imports[m][k];
    if (typeof f === 'function') imports[m][k] = (...a: any[]) => { counts['imp ' + k] = (counts['imp ' + k] ?? 0) + 1; return f(...a); };
  }
  const inst = new Orig(mod, imports);
  const ex: any = {};
  for (const [k, v] of Object.entries(inst.exports)) ex[k] = typeof v === 'function' ? (...a: any[]) => { counts['exp ' + k] = (counts['exp ' + k] ?? 0) + 1; return (v as any)(...a); } : v;
  return { exports: ex };
};
import { loadTandem, loadNoop, lifecycle } from '../envoy';
import { makeMix } from '../requests';
(async () => {
  const mix = makeMix(1000);
  for (const [name, load] of [['tandem', loadTandem], ['noop', loadNoop]] as const) {
    const h = await load();
    for (const kind of ['returning', 'header', 'new']) {
      for (const k of Object.keys(counts)) delete counts[k];
      const reqs = mix.filter((r) => r.kind === kind).slice(0, 100);
      for (const r of reqs) lifecycle(h, r);
      console.log(name, kind, Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / 100])));
    }
  }
})();
