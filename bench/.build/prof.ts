import { loadTandem, loadNoop, lifecycle } from '../envoy';
import { makeMix, median } from '../requests';
(async () => {
  const mix = makeMix(1000);
  const which = process.argv[2] ?? 'both';
  const t = await loadTandem(); const n = await loadNoop();
  const kinds = ['returning', 'header', 'new'] as const;
  const res: Record<string, number[]> = {};
  for (let round = 0; round < 20; round++) {
    for (const kind of kinds) {
      const reqs = mix.filter((r) => r.kind === kind);
      for (const [name, h] of [['tandem', t], ['noop', n]] as const) {
        if (which !== 'both' && which !== name) continue;
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < 3000; i++) lifecycle(h, reqs[i % reqs.length]);
        const ns = Number(process.hrtime.bigint() - t0) / 3000;
        (res[name + ' ' + kind] ??= []).push(ns);
      }
    }
  }
  for (const [k, v] of Object.entries(res)) console.log(k, median(v.slice(3)).toFixed(0));
})();
