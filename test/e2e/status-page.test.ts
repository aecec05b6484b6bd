/**
 * The status page in a real headless browser (test/helpers/browser.ts) on a
 * live cluster of two shard processes: it shows the model and both ranges
 * healthy, its try-it panel gives the same top-1 (and logZ) as the REST API
 * for the same vector, with a time per range, and a killed shard's range turns
 * unhealthy within seconds. With SHARDMAX_STATUS_SCREENSHOT=PATH it also
 * saves a screenshot (the README's).
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../helpers/browser.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { randomHead, randomHidden } from "../helpers/reference-softmax.js";

const V = 1000;
const D = 16;
let shards: ShardProcess[] = [];
let gateway: TestGateway;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), randomHead(21, V, D, 0.5, 1));
  shards = await Promise.all([0, 1].map((i) => startShard(["--weights", file, "--shard", `${i}/2`, "--listen", "127.0.0.1:0", "--threads", "1"])));
  gateway = await startGateway(shards.map((s) => s.address));
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await Promise.all(shards.map((s) => s.kill("SIGKILL")));
});

describe("the status page", () => {
  it("shows the model and the shard map of a live cluster", async () => {
    const fromOutside: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(gateway.url)) fromOutside.push(r.url());
    });
    await page.goto(`${gateway.url}/`);
    await page.waitForSelector('#shard-map tbody tr[data-health="healthy"] >> nth=1', { timeout: 10_000 });
    expect(await page.textContent("#model-v")).toBe(String(V));
    expect(await page.textContent("#model-d")).toBe(String(D));
    const model = (await gateway.get("/v1/model")).body as { model: { fingerprint: string } };
    expect(await page.textContent("#model-fingerprint")).toBe(model.model.fingerprint);
    expect(await page.$$eval("#shard-map tbody tr", (rows) => rows.map((r) => r.getAttribute("data-range")))).toEqual(["[0, 500)", "[500, 1000)"]);
    expect(fromOutside).toEqual([]);
  }, 30_000);

  it("answers from the try-it panel with the REST API's top-1, logZ and a time per range", async () => {
    const vector = Array.from(randomHidden(77, 1, D)[0]!, (x) => Number(x.toFixed(4)));
    await page.fill("#tryit-hidden", JSON.stringify(vector));
    await page.click("#tryit-run");
    await page.waitForSelector("#tryit-top li", { timeout: 10_000 });
    const rest = await gateway.post("/v1/softmax", { hidden: [vector], topK: 10 });
    const top = rest.body.results[0].top as { id: number }[];
    expect(await page.getAttribute("#tryit-top li >> nth=0", "data-id")).toBe(String(top[0]!.id));
    expect(await page.$$eval("#tryit-top li", (items) => items.map((li) => Number(li.getAttribute("data-id"))))).toEqual(top.map((t) => t.id));
    expect(Number(await page.textContent("#tryit-logz"))).toBeCloseTo(rest.body.results[0].logZ, 5);
    expect(await page.$$eval("#tryit-ranges li", (items) => items.map((li) => li.textContent!.split(":")[0]).sort())).toEqual(["[0, 500)", "[500, 1000)"]);
  }, 30_000);

  it("shows request rate and latency quantiles from the gateway's metrics", async () => {
    for (let i = 0; i < 20; i++) await gateway.post("/v1/softmax", { hidden: [Array.from(randomHidden(i, 1, D)[0]!)], topK: 5 });
    // A function, not a string: the page's Content-Security-Policy forbids eval, and a string predicate is eval'd.
    const p99Shown = () =>
      /ms$/.test(
        (globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } } }).document.getElementById("p99").textContent ??
          "",
      );
    await page.waitForFunction(p99Shown, undefined, { timeout: 10_000 });
    const screenshot = process.env.SHARDMAX_STATUS_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  }, 30_000);

  it("marks a killed shard's range unhealthy within seconds", async () => {
    await shards[1]!.kill("SIGKILL");
    await page.waitForSelector('#shard-map tbody tr[data-range="[500, 1000)"][data-health="unhealthy"]', { timeout: 8_000 });
    expect(await page.getAttribute('#shard-map tbody tr[data-range="[0, 500)"]', "data-health")).toBe("healthy");
  }, 30_000);
});
