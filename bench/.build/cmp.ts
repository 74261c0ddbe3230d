import { WasmHost } from '../../test/harness/envoy/index';
import { lifecycle } from '../envoy';
import { checkoutExperiment, distPath } from '../common';
import { makeMix, median } from '../requests';
(async () => {
  const cfg = JSON.stringify(checkoutExperiment());
  const specs: [string, string, string][] = process.argv.slice(2).map((a) => { const [name, file, root] = a.split(':'); return [name, file, root]; });
  const hosts = await Promise.all(specs.map(([, file, root]) => WasmHost.load({ wasm: file, rootId: root, configuration: cfg })));
  const mix = makeMix(1000);
  const ns: number[][] = specs.map(() => []);
  const N = 4000;
  for (let r = 0; r < 24; r++) {
    for (let j = 0; j < hosts.length; j++) {
      const k = (j + r) % hosts.length;
      const h = hosts[k];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) lifecycle(h, mix[(r * N + i) % 1000]);
      if (r >= 4) ns[k].push(Number(process.hrtime.bigint() - t0) / N);
    }
  }
  const base = median(ns[specs.findIndex(([n]) => n === 'noop')] ?? ns[0]);
  specs.forEach(([name], i) => console.log(name.padEnd(12), median(ns[i]).toFixed(0).padStart(7), 'ns', (median(ns[i]) / base).toFixed(3), 'pages', hosts[i].memoryPages()));
})();
