// Envoy sections: per-request overhead of tandem.wasm against the SDK's no-op filter,
// and linear-memory growth over 1,000,000 stream lifecycles. Both in the Envoy
// harness's direct WasmHost API (no sockets): the host work per request (header maps,
// pairs, context bookkeeping) is the same for both filters, so the ratio isolates
// what the filter itself costs on top of the smallest filter the same SDK builds.
import { SharedData, WasmHost, type Pair } from '../sim/envoy/index';
import { HeaderMap } from '../sim/envoy/header-map';
import { RESPONSE_HEADERS, RESPONSE_MAP, makeMix, median, rng, type BenchRequest } from './requests';
import { BREAKER_CONFIG, BREAKER_FAILURE_SHARE, BREAKER_KEYS, CHECKOUT_RULES, checkoutExperiment, checkoutExperimentWithRules, distPath, progress } from './common';
import { isBreakerSlot, readSharedState } from '../core-js/shared-state';
import { EXPOSE_HEADER, VARIANT_HEADER } from '../core-js/tandem-core';

const PROPS = { 'source.address': '10.1.2.3:51234' };

export async function loadTandem(configuration = JSON.stringify(checkoutExperiment())): Promise<WasmHost> {
  return WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'experiment', configuration });
}
export async function loadNoop(): Promise<WasmHost> {
  // same configuration text as tandem (the SDK's default onConfigure reads and keeps it)
  return WasmHost.load({ wasm: distPath('wasm/noop.wasm'), rootId: 'noop', configuration: JSON.stringify(checkoutExperiment()) });
}

export async function loadLeanNoop(): Promise<WasmHost> {
  return WasmHost.load({ wasm: distPath('wasm/noop-lean.wasm'), rootId: 'noop', configuration: JSON.stringify(checkoutExperiment()) });
}

/** One full stream lifecycle: context create, request headers, response headers, log/done/delete. */
export function lifecycle(host: WasmHost, req: BenchRequest): void {
  const s = host.newStream(PROPS);
  s.requestHeaders(req.envoy, true);
  s.responseHeaders(RESPONSE_MAP, false);
  s.done();
}

/** Runs `n` lifecycles over the mix starting at `offset`; returns elapsed ns. */
function timed(host: WasmHost, mix: BenchRequest[], offset: number, n: number): number {
  const len = mix.length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) lifecycle(host, mix[(offset + i) % len]);
  return Number(process.hrtime.bigint() - t0);
}

export interface EnvoyOverhead {
  overheadRatio: number;
  tandemNsPerRequest: number;
  noopNsPerRequest: number;
  /** tandem ÷ a no-op on tandem's own dispatcher: the decision's own cost */
  overheadRatioVsLeanNoop: number;
  leanNoopNsPerRequest: number;
  rounds: number;
  requestsPerRound: number;
  ratioMin: number;
  ratioMax: number;
}

export async function envoyOverhead(rounds = 60, perRound = 5000, warmup = 20000): Promise<EnvoyOverhead> {
  const mix = makeMix(1000);
  const tandem = await loadTandem();
  const noop = await loadNoop();
  const lean = await loadLeanNoop();
  // sanity: the filter really decides (variant header in, Set-Cookie out for new users)
  checkDecides(tandem, mix);
  for (const h of [tandem, noop, lean, tandem, noop, lean]) timed(h, mix, 0, warmup / 2);
  const ratios: number[] = [];
  const leanRatios: number[] = [];
  const tNs: number[] = [];
  const nNs: number[] = [];
  const lNs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // alternate which filter goes first, so drift within a round pair cancels out
    const off = (r * perRound) % mix.length;
    let t: number, n: number;
    if (r % 2 === 0) {
      t = timed(tandem, mix, off, perRound);
      n = timed(noop, mix, off, perRound);
    } else {
      n = timed(noop, mix, off, perRound);
      t = timed(tandem, mix, off, perRound);
    }
    const l = timed(lean, mix, off, perRound);
    tNs.push(t / perRound);
    nNs.push(n / perRound);
    lNs.push(l / perRound);
    ratios.push(t / n);
    leanRatios.push(t / l);
    if (r % 20 === 19) progress(`envoy: round ${r + 1}/${rounds} ratio ${(t / n).toFixed(3)}`);
  }
  return {
    overheadRatio: median(ratios),
    tandemNsPerRequest: median(tNs),
    noopNsPerRequest: median(nNs),
    overheadRatioVsLeanNoop: median(leanRatios),
    leanNoopNsPerRequest: median(lNs),
    rounds,
    requestsPerRound: perRound,
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
}

function checkDecides(host: WasmHost, mix: BenchRequest[]): void {
  for (const req of mix.slice(0, 20)) {
    const s = host.newStream(PROPS);
    const r = s.requestHeaders(req.pairs, true);
    const variant = r.headers.find(([k]) => k === VARIANT_HEADER);
    const resp = s.responseHeaders(RESPONSE_HEADERS, false);
    const cookie = resp.headers.find(([k]) => k === 'set-cookie');
    s.done();
    if (!variant) throw new Error(`envoy: tandem.wasm set no x-tandem-variant for a ${req.kind} request`);
    if ((req.kind === 'new') !== !!cookie) throw new Error(`envoy: unexpected Set-Cookie presence for a ${req.kind} request`);
  }
  if (host.failed) throw new Error('envoy: tandem VM failed');
}

// ----------------------------------------------------------------- rules

export interface EnvoyRules {
  /** median over rounds of (with 20 rules ÷ without) − 1 */
  rulesOverhead: number;
  rulesNsPerRequest: number;
  noRulesNsPerRequest: number;
  /** spread of the per-round overheads (ratio − 1) */
  rulesOverheadMin: number;
  rulesOverheadMax: number;
  rules: number;
  rounds: number;
  requestsPerRound: number;
  /** decision reasons seen in the sanity pass over the whole mix, per configuration */
  reasons: { rules: Record<string, number>; noRules: Record<string, number> };
  /** probes: requests built to hit each rule, all decided by that rule */
  probesMatched: number;
  /**
   * Context: what the harness's codec step costs per request — building the request and
   * response header maps with their bytes (HeaderMap.encoded), done once per request of
   * the mix before any timing, for every filter alike (Envoy's codec does it before the
   * filter chain) — and that ÷ noRulesNsPerRequest. The rules' one pairs call copies the
   * request's bytes from it.
   */
  codecNs: number;
  codecShare: number;
}

const DECISION = EXPOSE_HEADER;

/** One lifecycle, returning the request's x-tandem-variant and the response's x-tandem-decision. */
function decisionOf(host: WasmHost, pairs: Pair[]): { variant?: string; decision?: string; setCookie: boolean } {
  const s = host.newStream(PROPS);
  const rq = s.requestHeaders(pairs, true);
  const rs = s.responseHeaders(RESPONSE_HEADERS, false);
  s.done();
  return {
    variant: rq.headers.find(([k]) => k === VARIANT_HEADER)?.[1],
    decision: rs.headers.find(([k]) => k === DECISION)?.[1],
    setCookie: rs.headers.some(([k]) => k === 'set-cookie'),
  };
}

function withHeaders(pairs: Pair[], set: Array<[string, string]>): Pair[] {
  const out = pairs.map(([k, v]) => [k, v] as Pair);
  for (const [name, value] of set) {
    const i = out.findIndex(([k]) => k === name);
    if (i >= 0) out[i] = [name, value];
    else out.push([name, value]);
  }
  return out;
}

/**
 * tandem.wasm (root id experiment) with the checkout policy plus the 20 rules of
 * CHECKOUT_RULES ÷ the same policy without rules; exposeHeader on both, so both pay
 * for the decision header and the sanity pass can read the reason.
 */
export async function envoyRulesOverhead(rounds = 60, perRound = 5000, warmup = 20000): Promise<EnvoyRules> {
  const mix = makeMix(1000);
  const withRules = await loadTandem(JSON.stringify({ ...checkoutExperimentWithRules(), exposeHeader: true }));
  const noRules = await loadTandem(JSON.stringify({ ...checkoutExperiment(), exposeHeader: true }));

  // Sanity 1: every rule is configured and reachable — a probe built for rule i is decided by rule i.
  const base = mix.find((r) => r.kind === 'returning')!;
  CHECKOUT_RULES.forEach(({ rule, probe }, i) => {
    const d = decisionOf(withRules, withHeaders(base.pairs, probe));
    const want = typeof rule.variant === 'string' ? `${rule.variant}; reason=rule:${i}` : null;
    if (want ? d.decision !== want : !d.decision?.endsWith(`; reason=rule:${i}`)) {
      throw new Error(`envoy-rules: the probe for rule ${i} got ${DECISION}: ${d.decision ?? '(none)'}, expected ${want ?? `reason=rule:${i}`}`);
    }
  });
  // Sanity 2: no request of the mix matches any rule (all 20 evaluated every time), and
  // both configurations decide every request alike (variant, decision, Set-Cookie).
  const reasons = { rules: {} as Record<string, number>, noRules: {} as Record<string, number> };
  for (const req of mix) {
    const a = decisionOf(withRules, req.pairs);
    const b = decisionOf(noRules, req.pairs);
    for (const [d, tally] of [[a, reasons.rules], [b, reasons.noRules]] as const) {
      const reason = d.decision?.split('reason=')[1] ?? '(no header)';
      tally[reason] = (tally[reason] ?? 0) + 1;
    }
    if (!a.variant || !a.decision?.endsWith('; reason=split') || !b.decision?.endsWith('; reason=split')) {
      throw new Error(`envoy-rules: a ${req.kind} request was not decided by the split: with rules ${a.decision ?? '(none)'}, without ${b.decision ?? '(none)'}`);
    }
    if (a.variant !== b.variant || a.decision !== b.decision || a.setCookie !== b.setCookie || a.setCookie !== (req.kind === 'new')) {
      throw new Error(`envoy-rules: the two configurations decided a ${req.kind} request differently: ${JSON.stringify({ a, b })}`);
    }
  }
  if (withRules.failed || noRules.failed) throw new Error('envoy-rules: a tandem VM failed');
  progress(`envoy-rules: ${CHECKOUT_RULES.length} probes matched their rule; mix reasons with rules ${JSON.stringify(reasons.rules)}, without ${JSON.stringify(reasons.noRules)}`);

  for (const h of [withRules, noRules, withRules, noRules]) timed(h, mix, 0, warmup / 2);
  const ratios: number[] = [];
  const rNs: number[] = [];
  const nNs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const off = (r * perRound) % mix.length;
    let a: number, b: number;
    if (r % 2 === 0) {
      a = timed(withRules, mix, off, perRound);
      b = timed(noRules, mix, off, perRound);
    } else {
      b = timed(noRules, mix, off, perRound);
      a = timed(withRules, mix, off, perRound);
    }
    rNs.push(a / perRound);
    nNs.push(b / perRound);
    ratios.push(a / b);
    if (r % 20 === 19) progress(`envoy-rules: round ${r + 1}/${rounds} overhead ${(a / b - 1).toFixed(3)}`);
  }
  if (withRules.failed || noRules.failed) throw new Error('envoy-rules: a tandem VM failed during timing');
  const codecNs = codecNsPerRequest(mix);
  return {
    codecNs,
    codecShare: codecNs / median(nNs),
    rulesOverhead: median(ratios) - 1,
    rulesNsPerRequest: median(rNs),
    noRulesNsPerRequest: median(nNs),
    rulesOverheadMin: Math.min(...ratios) - 1,
    rulesOverheadMax: Math.max(...ratios) - 1,
    rules: CHECKOUT_RULES.length,
    rounds,
    requestsPerRound: perRound,
    reasons,
    probesMatched: CHECKOUT_RULES.length,
  };
}

/**
 * The codec step every section does before timing (BenchRequest.envoy, RESPONSE_MAP):
 * build one request's and one response's header maps with their bytes, per request of
 * the mix: median of 20 rounds of 5,000 (after a warm-up round).
 */
function codecNsPerRequest(mix: BenchRequest[]): number {
  const rounds: number[] = [];
  let sink = 0;
  for (let r = 0; r < 21; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 5000; i++) {
      const req = mix[(r * 5000 + i) % mix.length];
      sink += HeaderMap.encoded(req.pairs, 'request').size + HeaderMap.encoded(RESPONSE_HEADERS, 'response').size;
    }
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - t0) / 5000);   // round 0: warm-up
  }
  if (sink === 0) throw new Error('envoy-rules: the codec built empty maps');
  return median(rounds);
}

export interface MemoryGrowth {
  memoryGrowthPages: number;
  pagesAfterWarmup: number;
  pagesAfterRun: number;
  requests: number;
  nsPerRequest: number;
}

export async function memoryGrowth(requests = 1_000_000, warmup = 10_000): Promise<MemoryGrowth> {
  const mix = makeMix(1000, 0x51ab);
  const host = await loadTandem();
  timed(host, mix, 0, warmup);
  const before = host.memoryPages();
  let ns = 0;
  const chunk = 100_000;
  for (let done = 0; done < requests; done += chunk) {
    ns += timed(host, mix, done, Math.min(chunk, requests - done));
    if ((done / chunk) % 2 === 1) progress(`memory: ${done + chunk} requests, ${host.memoryPages()} pages`);
  }
  if (host.failed) throw new Error('memory: tandem VM failed during the run');
  const after = host.memoryPages();
  return { memoryGrowthPages: after - before, pagesAfterWarmup: before, pagesAfterRun: after, requests, nsPerRequest: ns / requests };
}

// ----------------------------------------------------------------- breaker

/** One request of the breaker mix: its codec-built request and response maps (see BenchRequest.envoy). */
interface BreakerItem { request: HeaderMap; response: HeaderMap; failed: boolean }

const RESPONSE_503 = HeaderMap.encoded(RESPONSE_HEADERS.map(([k, v]) => (k === ':status' ? [k, '503'] : [k, v]) as Pair), 'response');

/**
 * The request mix as the breaker sees it behind the `experiment` filter: every request
 * carries x-tandem-variant (the breaker's default key `upstream`), rotating over a few
 * keys; ~5% of the responses are 503 (failures, spread at random), the rest 200.
 */
function breakerMix(n: number): BreakerItem[] {
  const r = rng(0xb3e4);
  return makeMix(n, 0x7a3d).map((req, i) => {
    const failed = r() < BREAKER_FAILURE_SHARE;
    return {
      request: HeaderMap.encoded([...req.pairs, [VARIANT_HEADER, BREAKER_KEYS[i % BREAKER_KEYS.length]] as Pair], 'request'),
      response: failed ? RESPONSE_503 : RESPONSE_MAP,
      failed,
    };
  });
}

/** n full lifecycles (the response with the item's status; done() runs on_log) from offset; elapsed ns. */
function timedBreaker(host: WasmHost, mix: BreakerItem[], offset: number, n: number): number {
  const len = mix.length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const it = mix[(offset + i) % len];
    const s = host.newStream(PROPS);
    s.requestHeaders(it.request, true);
    s.responseHeaders(it.response, false);
    s.done();
  }
  return Number(process.hrtime.bigint() - t0);
}

/** Breaker states in shared data (core-js/shared-state.ts reads the filter's layout). */
function breakerSlots(sd: SharedData): Array<{ key: string; state: string; calls: number; failures: number }> {
  return sd.keys('').filter(isBreakerSlot).flatMap((name) => {
    const s = readSharedState(name, sd.get('', name)!.value);
    return s ? [{ key: s.key.toString('utf8'), state: s.state, calls: s.calls, failures: s.failures }] : [];
  });
}

export interface EnvoyBreaker {
  /** breaker (root id circuit-breaker, shared data) ÷ the SDK's no-op filter, per stream */
  breakerOverheadRatio: number;
  /** breaker ÷ a no-op on tandem's own dispatcher (noop-lean.wasm) */
  breakerOverheadRatioVsLeanNoop: number;
  breakerNsPerRequest: number;
  noopNsPerRequest: number;
  leanNoopNsPerRequest: number;
  ratioMin: number;
  ratioMax: number;
  rounds: number;
  requestsPerRound: number;
  /** share of 503 responses in the mix, and what the breaker saw at the end */
  failureShare: number;
  rejected: number;
  keys: Array<{ key: string; state: string; calls: number; failures: number }>;
  sharedDataOps: { getsPerRequest: number; setsPerRequest: number };
}


export async function envoyBreakerOverhead(rounds = 48, perRound = 5000, warmup = 20000): Promise<EnvoyBreaker> {
  const mix = breakerMix(1000);
  const sharedData = new SharedData();
  const configuration = JSON.stringify(BREAKER_CONFIG);
  const breaker = await WasmHost.load({ wasm: distPath('wasm/tandem.wasm'), rootId: 'circuit-breaker', configuration, sharedData });
  // the no-ops get the same configuration text (the SDK's default onConfigure reads it)
  const noop = await WasmHost.load({ wasm: distPath('wasm/noop.wasm'), rootId: 'noop', configuration, sharedData });
  const lean = await WasmHost.load({ wasm: distPath('wasm/noop-lean.wasm'), rootId: 'noop', configuration, sharedData });

  // sanity: admitted (continue, no local reply), outcomes land in shared data per key
  for (const it of mix.slice(0, 40)) {
    const s = breaker.newStream(PROPS);
    const r = s.requestHeaders(it.request, true);
    s.responseHeaders(it.response, false);
    s.done();
    if (r.action !== 'continue' || r.localReply) throw new Error('envoy-breaker: a request was not admitted');
  }
  const seen = breakerSlots(sharedData);
  if (seen.length !== BREAKER_KEYS.length || seen.some((k) => k.calls === 0)) {
    throw new Error(`envoy-breaker: outcomes not recorded in shared data: ${JSON.stringify(seen)}`);
  }

  const hosts = [breaker, noop, lean];
  for (const h of [...hosts, ...hosts]) timedBreaker(h, mix, 0, warmup / 2);
  const ns: number[][] = [[], [], []];
  const ratios: number[] = [];
  const leanRatios: number[] = [];
  // every order of the three in turn (rounds a multiple of 6)
  const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]];
  for (let r = 0; r < rounds; r++) {
    const off = (r * perRound) % mix.length;
    const t: number[] = [0, 0, 0];
    for (const j of orders[r % orders.length]) t[j] = timedBreaker(hosts[j], mix, off, perRound);
    for (let j = 0; j < 3; j++) ns[j].push(t[j] / perRound);
    ratios.push(t[0] / t[1]);
    leanRatios.push(t[0] / t[2]);
    if (r % 16 === 15) progress(`envoy-breaker: round ${r + 1}/${rounds} ratio ${(t[0] / t[1]).toFixed(3)}`);
  }
  // Shared-data traffic per request, counted after timing (a counting wrapper would
  // add its own cost to the timed rounds): 1,000 more breaker streams.
  const ops = { get: 0, set: 0 };
  const get = sharedData.get.bind(sharedData);
  const set = sharedData.set.bind(sharedData);
  sharedData.get = (vm, key) => { ops.get++; return get(vm, key); };
  sharedData.set = (vm, key, value, cas) => { ops.set++; return set(vm, key, value, cas); };
  timedBreaker(breaker, mix, 0, mix.length);
  const getsPerRequest = ops.get / mix.length;
  const setsPerRequest = ops.set / mix.length;

  // The breaker stayed closed: nothing rejected, every key closed with failures counted.
  if (breaker.failed) throw new Error('envoy-breaker: the breaker VM failed');
  const rejected = breaker.metrics['wasmcustom.tandem_breaker_rejected'] ?? 0;
  const keys = breakerSlots(sharedData);
  if (rejected !== 0 || keys.length !== BREAKER_KEYS.length || keys.some((k) => k.state !== 'closed' || k.calls !== 100)) {
    throw new Error(`envoy-breaker: the breaker did not stay closed: rejected ${rejected}, keys ${JSON.stringify(keys)}`);
  }
  const failureShare = mix.filter((m) => m.failed).length / mix.length;
  progress(`envoy-breaker: ${rejected} rejected; ${keys.map((k) => `${k.key} ${k.state} ${k.failures}/${k.calls}`).join(', ')}; shared data ${getsPerRequest.toFixed(2)} gets + ${setsPerRequest.toFixed(2)} sets per request`);
  return {
    breakerOverheadRatio: median(ratios),
    breakerOverheadRatioVsLeanNoop: median(leanRatios),
    breakerNsPerRequest: median(ns[0]),
    noopNsPerRequest: median(ns[1]),
    leanNoopNsPerRequest: median(ns[2]),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    rounds,
    requestsPerRound: perRound,
    failureShare,
    rejected,
    keys,
    sharedDataOps: { getsPerRequest, setsPerRequest },
  };
}
