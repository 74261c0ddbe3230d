// The main thread's handle on the load generator worker (./load-worker.ts, built beside
// the CLI bundle as playground-load.js): settings in, one LoadSecond a second out.
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import type { LoadSecond, LoadSettings, LoadTarget } from "./load-shape";

export const LOAD_WORKER_FILE = "playground-load.js";

export class LoadGenerator {
  private readonly worker: Worker;
  settings: LoadSettings;

  constructor(settings: LoadSettings, onSecond: (s: LoadSecond) => void, dir = __dirname) {
    this.settings = settings;
    this.worker = new Worker(join(dir, LOAD_WORKER_FILE));
    this.worker.on("message", onSecond);
    this.worker.postMessage({ settings });
  }

  set(settings: LoadSettings): void {
    this.settings = settings;
    this.worker.postMessage({ settings });
  }

  /** Where to send; `reset` when the policy was replaced (users and agreement start over). */
  aim(target: LoadTarget, reset = false): void {
    this.worker.postMessage({ target, ...(reset ? { reset: true } : {}) });
  }

  async close(): Promise<void> {
    this.worker.postMessage({ stop: true });
    // The worker ends when its timers and sockets are gone; terminate bounds the wait.
    await Promise.race([new Promise((ok) => this.worker.once("exit", ok)), new Promise((ok) => setTimeout(ok, 500).unref())]);
    await this.worker.terminate();
  }
}
