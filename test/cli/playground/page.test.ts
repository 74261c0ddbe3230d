// The playground page in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
// playwright-core (no browser download). Loads the page, checks both gateways' panels
// show traffic, presses "fail the canary" and waits for the guard's rollback on both
// sides, changes the weight and waits for the served split to follow; screenshots go
// to test/artifacts/ (gitignored). Without Chromium it prints one line and skips.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT } from "../../support/dist";
import { startPlayground, type Playground } from "../../support/playground";
import { KEPT_SECONDS } from "../../../cli/playground/history";

const CHROMIUM = "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
if (!present) console.log("skipped: chromium not installed");
const ARTIFACTS = join(ROOT, "test", "artifacts");

// The guard of playground.yaml rolls back after 20 canary calls with ≥ 20% failures: at
// 80 pairs/s and 10% canary that is ~3 s of traffic (3–4 s measured on a quiet run), the
// page refreshes each second. On a machine busy with other work the gateways answer
// fewer pairs a second (26 s seen with the whole playground folder running at once):
// the bound is the guard's, not a speed target.
const ROLLBACK_MS = 60_000;
// The served split is over the last 10 s: after a weight change it is near the new
// weight once most of that window is new traffic.
const SPLIT_MS = 45_000;

describe.skipIf(!present)("playground page in Chromium", () => {
  let pg: Playground;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    pg = await startPlayground("--rps", "80");
    // As root Chromium needs --no-sandbox (its sandbox refuses to run as uid 0).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    if (pg) expect(await pg.stop()).toBe(0);
  }, 30_000);

  const panel = (gw: string) => page.locator(`[data-gw=${gw}]`);
  const served = async (gw: string, variant: string) => {
    const t = await panel(gw).locator(`[data-variant=${variant}] [data-role=served]`).textContent();
    return Number(/served ([\d.]+)%/.exec(t ?? "")?.[1] ?? NaN);
  };

  it("shows both gateways' traffic and the agreement line", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(pg.page);
    await page.waitForFunction(() => document.body.dataset.ready === "1");
    for (const gw of ["kong", "envoy"]) {
      await expect.poll(() => served(gw, "stable"), { timeout: 60_000 }).toBeGreaterThan(50);
      await expect.poll(() => panel(gw).locator("[data-role=decisions] tr").count(), { timeout: 10_000 }).toBeGreaterThan(1);
      // one chart per figure, drawn by uPlot
      expect(await panel(gw).locator(".uplot").count()).toBe(4);
    }
    await expect.poll(() => page.locator("#agreement").textContent(), { timeout: 20_000 }).toMatch(/agree for every user seen/);
    // Envoy's figures come from its admin's /stats/prometheus as Kong's from its /metrics:
    // the panel says so, and its served split and key sources are the metrics' counts.
    await expect.poll(() => panel("envoy").locator("[data-role=url]").textContent(), { timeout: 10_000 })
      .toMatch(/figures from the gateway's metrics \(metrics: scraped http:\/\/127\.0\.0\.1:\d+\/stats\/prometheus\)/);
    expect(await panel("kong").locator("[data-role=url]").textContent()).toMatch(/figures from the gateway's metrics \(metrics: scraped (http:\/\/127\.0\.0\.1:\d+\/metrics(, )?){3}\)/);
    for (const gw of ["kong", "envoy"]) {
      await expect.poll(() => panel(gw).locator("[data-role=sources]").textContent(), { timeout: 10_000 }).toMatch(/tandem_assignments_total/);
      await expect.poll(() => served(gw, "canary"), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    // every control has an accessible name
    for (const label of ["requests/s", "users", "returning %", "errors %", "added latency ms", "weight %"]) await expect(page.getByLabel(label).count()).resolves.toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, "playground-1280x800.png"), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);

  it("an out-of-range weight is refused on the page, before any request", async () => {
    await page.getByLabel("weight %").fill("120");
    await page.getByRole("button", { name: "apply weight" }).click();
    await expect.poll(() => page.locator("#weight-error").textContent()).toBe("weight: must be between 0 and 100, got 120");
    expect(await page.getByLabel("weight %").getAttribute("aria-invalid")).toBe("true");
  });

  it('"fail the canary": the guard rolls the canary back on both sides', async () => {
    const t0 = Date.now();
    await page.getByRole("button", { name: /fail the canary/ }).click();
    for (const gw of ["kong", "envoy"]) {
      await expect.poll(() => panel(gw).locator("[data-role=guard-state]").first().textContent(), { timeout: ROLLBACK_MS - (Date.now() - t0) })
        .toMatch(/guard of canary: rolled back/);
    }
    const took = Date.now() - t0;
    console.log(`guard rollback shown on both panels ${took} ms after "fail the canary"`);
    await expect.poll(() => panel("kong").locator("[data-role=transition]").first().textContent(), { timeout: 5000 }).toMatch(/guard of canary: ok → rolled back/);
    await page.screenshot({ path: join(ARTIFACTS, "playground-rollback.png"), fullPage: true });
    // what the README shows (docs/playground.png is a copy of one such run's)
    await page.screenshot({ path: join(ARTIFACTS, "playground-readme.png") });
    await page.getByRole("button", { name: "heal the canary" }).click();
  }, ROLLBACK_MS + 30_000);

  it("a new weight goes to both gateways and the served split follows", async () => {
    await page.getByLabel("weight %").fill("50");
    await page.getByRole("button", { name: "apply weight" }).click();
    await expect.poll(() => page.locator("#message").textContent(), { timeout: 15_000 }).toContain("weights stable 50 / canary 50 applied to Kong and Envoy");
    // Users keep their variant when the canary's range only widens: a canary user never goes back.
    for (const gw of ["kong", "envoy"]) {
      await expect.poll(async () => Math.abs((await served(gw, "canary")) - 50), { timeout: SPLIT_MS }).toBeLessThan(8);
    }
    expect(await page.locator("#moves").textContent()).not.toContain("canary→stable");
    await page.screenshot({ path: join(ARTIFACTS, "playground-weight-50.png"), fullPage: true });
  }, SPLIT_MS + 30_000);

  it("reads on a narrow window: the panels stack", async () => {
    await page.setViewportSize({ width: 420, height: 900 });
    await page.waitForTimeout(1500);
    const [k, e] = await Promise.all(["kong", "envoy"].map((gw) => panel(gw).boundingBox()));
    expect(e!.y).toBeGreaterThan(k!.y + k!.height - 1);
    expect(k!.width).toBeLessThanOrEqual(420);
    await page.screenshot({ path: join(ARTIFACTS, "playground-narrow.png") });
  }, 30_000);

  // Issue 15: "the page stays responsive with 10,000 users". What could make it slow is
  // anything drawn or sent per user; this checks that nothing is: with 10,000 users and
  // every pair a new visitor, after at least NEW_USERS more users were seen, the page has
  // no more elements than before (beyond a few transition rows) and /api/state holds no
  // list longer than the history's seconds. Counts, not timings; the main thread's long
  // tasks in that window are printed for the record, not asserted.
  it("with 10,000 users nothing on the page or in its data grows with the users", async () => {
    const NEW_USERS = 1000;
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByLabel("requests/s").fill("200");
    await page.getByLabel("users").fill("10000");
    await page.getByLabel("returning %").fill("0");
    await page.getByRole("button", { name: "apply load" }).click();
    await expect.poll(() => page.locator("#message").textContent(), { timeout: 15_000 }).toContain("load: 200 pairs/s, 10000 users, 0% returning");
    const seen = () => page.evaluate(async () => ((await (await fetch("api/state", { cache: "no-store" })).json()) as { agreement: { users: number } | null }).agreement?.users ?? 0);
    const users0 = await seen();
    const elements = () => page.evaluate(() => document.getElementsByTagName("*").length);
    const elements0 = await elements();
    await page.evaluate(() => {
      const w = window as unknown as { longTasks: number[] };
      w.longTasks = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) w.longTasks.push(e.duration); }).observe({ type: "longtask" });
    });
    await expect.poll(seen, { timeout: 150_000, interval: 2000 }).toBeGreaterThanOrEqual(users0 + NEW_USERS);
    const users1 = await seen();
    const elements1 = await elements();
    // The longest list in the state, and where it is.
    const longest = await page.evaluate(async () => {
      const s = await (await fetch("api/state", { cache: "no-store" })).json();
      let best = { path: "", length: 0 };
      const walk = (v: unknown, path: string) => {
        if (Array.isArray(v)) { if (v.length > best.length) best = { path, length: v.length }; v.forEach((x, i) => walk(x, `${path}[${i}]`)); }
        else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
      };
      walk(s, "");
      return { ...best, bytes: JSON.stringify(s).length };
    });
    const long = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
    console.log(`10,000 users: ${users1 - users0} new users seen; page elements ${elements0} -> ${elements1}; ` +
      `longest list in /api/state ${longest.path} (${longest.length}), ${longest.bytes} bytes; ` +
      `long tasks ${long.length}, longest ${Math.round(Math.max(0, ...long))} ms`);
    expect(users1 - users0).toBeGreaterThanOrEqual(NEW_USERS);
    // Transition rows and marks may be added meanwhile (the healed guard restoring): a few
    // elements each, far from one per user.
    expect(elements1 - elements0).toBeLessThan(50);
    expect(longest.length).toBeLessThanOrEqual(KEPT_SECONDS + 1);
    // The page still answers a control.
    await page.getByLabel("users").fill("1000");
    await page.getByLabel("returning %").fill("80");
    await page.getByRole("button", { name: "apply load" }).click();
    await expect.poll(() => page.locator("#message").textContent(), { timeout: 15_000 }).toContain("1000 users, 80% returning");
    await page.screenshot({ path: join(ARTIFACTS, "playground-10000-users.png"), fullPage: true });
  }, 240_000);
});
