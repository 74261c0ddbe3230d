'use strict';
// Preloaded into the plugin server (`node --require virtual-clock.cjs ...`) so
// tests can drive the time the plugins see without any hook in production code.
// The clock is real until the harness sends the first {type:'tandem:setNow'}
// over the IPC channel; from then on it is frozen at the value the test set and
// only moves when the test moves it (like fake timers). Timers (setTimeout,
// setInterval) stay on real time: only "what time is it" is virtual.

const RealDate = Date;
const realDateNow = RealDate.now.bind(RealDate);
const perf = globalThis.performance;
const realPerfNow = perf && perf.now ? perf.now.bind(perf) : null;

let virtualMs = null; // null = real clock
// performance.now() must advance exactly like Date.now() in virtual mode; it is
// anchored at the first setNow so it keeps its "ms since start" scale.
let perfAnchor = 0;
let virtualAnchor = 0;

function now() {
  return virtualMs === null ? realDateNow() : virtualMs;
}

class VirtualDate extends RealDate {
  constructor(...args) {
    // `new Date()` without arguments means "now": make it the virtual now.
    if (args.length === 0) super(now());
    else super(...args);
  }
  static now() {
    return now();
  }
}
// Calling Date() as a function returns a string of the current time.
const DateProxy = new Proxy(VirtualDate, {
  apply() {
    return new RealDate(now()).toString();
  },
});
globalThis.Date = DateProxy;

if (perf && realPerfNow) {
  try {
    Object.defineProperty(perf, 'now', {
      configurable: true,
      writable: true,
      value: () => (virtualMs === null ? realPerfNow() : perfAnchor + (virtualMs - virtualAnchor)),
    });
  } catch {
    // Some runtimes freeze performance; Date.now is what tandem uses anyway.
  }
}

if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (!msg || msg.type !== 'tandem:setNow') return;
    if (virtualMs === null) {
      perfAnchor = realPerfNow ? realPerfNow() : 0;
      virtualAnchor = msg.ms;
    }
    virtualMs = msg.ms;
    process.send({ type: 'tandem:nowSet', id: msg.id, ms: virtualMs });
  });
  // The IPC channel must not keep a finished process alive (the --dump query
  // command also runs with this preload when virtual time is on).
  if (process.channel && typeof process.channel.unref === 'function') process.channel.unref();
}
