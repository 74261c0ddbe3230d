import { envoyOverhead, memoryGrowth } from './envoy';
(async () => {
  console.log(await envoyOverhead(10, 5000));
  console.log(await memoryGrowth(100000));
})();
