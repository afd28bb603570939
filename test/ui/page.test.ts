/**
 * The live gather page (GET /api/ui) in a real browser: Debian's chromium driven by playwright-core,
 * against a local host this file starts (or BASE_URL). Skipped, with a message, only when
 * /usr/bin/chromium is missing and CI is not set; under CI a missing browser fails the suite
 * (.ci/run installs it). The screenshot of the first test is saved to test/ui/artifacts/gather.png
 * (gitignored); with UPDATE_DOCS_SCREENSHOT=1 also to docs/gather-page.png (the README's).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { ScatterGatherClient } from "../../src/client";
import { keysFor, pollUntil, recipientServer, repoRoot, uniqueId, useTarget } from "../e2e/harness";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = fs.existsSync(CHROMIUM);
const ARTIFACTS = path.join(repoRoot, "test", "ui", "artifacts");

if (!haveChromium && !process.env.CI) {
  console.warn(`test/ui skipped: ${CHROMIUM} is missing (apt-get install -y chromium); under CI this suite fails instead.`);
}
/** The page has this gather's final state: data-done is set only for the gather data-id names. */
const doneWith = (id: string) => `#watch[data-id="${id}"][data-done=true]`;
const maybe = haveChromium || process.env.CI ? describe : describe.skip;

maybe("the gather page", () => {
  const target = useTarget();
  jest.setTimeout(90_000);
  let browser: Browser;
  let page: Page;
  let client: ScatterGatherClient;
  const apiKeys: Array<{ url: string; key: string | undefined }> = [];
  // The suite's host enforces keys as Azure does: the page gets its function key once, as ?code=.
  let KEY: string;

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on("request", (req) => {
      if (/\/api\/scatter-gather/.test(req.url())) apiKeys.push({ url: req.url(), key: req.headers()["x-functions-key"] });
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    KEY = keysFor(target.baseUrl).function!;
    client = new ScatterGatherClient({ baseUrl: target.baseUrl, key: KEY });
    // ?code= is taken once: into the tab's storage, out of the address bar
    await page.goto(`${target.baseUrl}/api/ui?code=${KEY}`);
    await page.waitForSelector("#examples button[data-example=auction]");
    expect(page.url()).toBe(`${target.baseUrl}/api/ui`);
    expect(errors).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  test("the page: one HTML file, a script and a stylesheet; no key in it; a CSP", async () => {
    const res = await fetch(`${target.baseUrl}/api/ui?code=${KEY}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).not.toContain(KEY);
    expect(html).toContain('src="ui/app.js"');
    expect((await fetch(`${target.baseUrl}/api/ui/app.js`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${target.baseUrl}/api/ui/style.css`)).status).toBe(200);
    expect((await fetch(`${target.baseUrl}/api/ui/package.json`)).status).toBe(404);
  });

  test("start the README's first example from the page, watch it complete: table, histogram and aggregate as the API says", async () => {
    expect(await page.locator("#examples button").allTextContents()).toEqual(["all", "first", "quorum", "agreement", "auction"]);
    expect(JSON.parse(await page.inputValue("#editor"))).toMatchObject({
      request: { sku: "widget", qty: 10 },
      aggregate: { kind: "best", field: "price", order: "min" },
    });
    await page.click("#start-button");
    await page.waitForSelector("#watch:not([hidden])");
    // while it runs: a deadline counting down
    await page.locator("#deadline", { hasText: /^\d+\.\d s$/ }).waitFor({ timeout: 5000 });
    await page.waitForSelector("#watch[data-done=true]", { timeout: 20_000 });
    const id = (await page.textContent("#gather-id"))!;
    expect(page.url()).toBe(`${target.baseUrl}/api/ui#${id}`);

    const status = await client.get(id);
    const items = await client.allResponses(id);
    expect(status.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
    expect(await page.textContent("#runtime-status")).toBe("Completed");
    expect(await page.textContent("#outcome")).toBe("complete");
    expect(await page.textContent("#closed-by")).toMatch(/^all-responded: /);
    expect(await page.textContent("#policy")).toBe("all, deadline 5000 ms, best price min");
    expect(await page.textContent("#counts")).toBe("3 recipients: succeeded 2, failed 1, pending 0, timed out 0, abandoned 0");

    const rows = await page.$$eval("#responses tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
    );
    expect(rows).toEqual(
      items.map((r) => [
        r.recipientId,
        r.status,
        String(r.attempts ?? ""),
        r.durationMs === undefined ? "" : `${Math.round(r.durationMs)} ms`,
        r.error ?? "",
        r.value === undefined ? "" : "show",
      ]),
    );
    await page.click("#responses tr[data-recipient=globex] button");
    expect(JSON.parse((await page.textContent("#responses tr[data-recipient=globex] pre"))!)).toEqual({ price: 39 });

    const withDuration = items.filter((r) => typeof r.durationMs === "number");
    const bars = await page.$$eval("#histogram rect.bar", (rects) =>
      rects.map((r) => ({
        n: Number(r.getAttribute("data-count")),
        from: Number(r.getAttribute("data-from")),
        to: Number(r.getAttribute("data-to")),
      })),
    );
    expect(bars.reduce((sum, b) => sum + b.n, 0)).toBe(withDuration.length);
    for (const r of withDuration) expect(bars.some((b) => b.n > 0 && r.durationMs! >= b.from - 1 && r.durationMs! <= b.to + 1)).toBe(true);

    expect(JSON.parse((await page.textContent("#aggregate"))!)).toEqual(status.result!.aggregate);
    await page.waitForSelector(`#recent tr[data-id="${id}"]`);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = path.join(ARTIFACTS, "gather.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    if (process.env.UPDATE_DOCS_SCREENSHOT === "1") fs.copyFileSync(shot, path.join(repoRoot, "docs", "gather-page.png"));

    // every API call carried the key given as ?code=
    expect(apiKeys.length).toBeGreaterThan(3);
    expect(apiKeys.filter((c) => c.key !== KEY)).toEqual([]);
  });

  test("a gather started elsewhere: its policy from the status route, and how its close event went", async () => {
    const receiver = await recipientServer(() => ({ status: 204, text: "" }));
    const id = uniqueId("page-elsewhere");
    await client.start({
      id,
      request: {},
      recipients: [{ id: "a", simulate: { latencyMs: 10, value: 1 } }],
      completion: { mode: "all", timeoutMs: 10_000 },
      concurrency: { maxInFlight: 5 },
      tolerance: { maxFailures: 1 },
      onClose: { url: `${receiver.url}/hooks` },
    });
    await pollUntil(target, id, (s) => s.runtimeStatus === "Completed");
    await page.goto(`${target.baseUrl}/api/ui#${id}`);
    await page.waitForSelector(doneWith(id), { timeout: 20_000 });
    expect(await page.textContent("#policy")).toBe(
      "all, deadline 10000 ms, collect, at most 5 at once, closes past 1 failure, close event on close",
    );
    expect(await page.textContent("#closed-by")).toMatch(/; close event delivered \(1 attempt, HTTP 204\)$/);
  });

  test("switching gathers while the page still loads the last one's answers: the new one is watched to its end", async () => {
    const finished = uniqueId("page-switch-from");
    const running = uniqueId("page-switch-to");
    await client.start({ id: finished, request: {}, recipients: [{ id: "a", simulate: { value: 1 } }] });
    await pollUntil(target, finished, (s) => s.runtimeStatus === "Completed");
    await client.start({
      id: running,
      request: {},
      recipients: [
        { id: "x", simulate: { latencyMs: 1500, value: 2 } },
        { id: "y", simulate: { latencyMs: 1500, value: 3 } },
      ],
    });
    // Hold the finished gather's answers until the page has switched to the running one.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const answersOfFinished = (url: URL) => url.pathname.endsWith(`/${finished}/responses`);
    let asked = 0;
    await page.route(answersOfFinished, async (route) => {
      asked++;
      await held;
      await route.continue();
    });
    try {
      await page.goto(`${target.baseUrl}/api/ui#${finished}`);
      for (let waited = 0; asked === 0 && waited < 10_000; waited += 50) await page.waitForTimeout(50);
      expect(asked).toBeGreaterThan(0);
      await page.goto(`${target.baseUrl}/api/ui#${running}`);
      await page.waitForSelector(`#gather-id:text-is("${running}")`);
      release();
      await page.waitForSelector(doneWith(running), { timeout: 20_000 });
      expect(await page.textContent("#counts")).toBe("2 recipients: succeeded 2, failed 0, pending 0, timed out 0, abandoned 0");
      expect(await page.$$eval("#responses tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-recipient")))).toEqual(["x", "y"]);
    } finally {
      release();
      await page.unroute(answersOfFinished);
    }
    await client.delete(finished);
    await client.delete(running);
  });

  test("a gather delivering its close event says so, then shows its result once delivered", async () => {
    // The receiver refuses the first delivery; the next comes a second later, and is held until the page has shown
    // the gather closed and delivering (however slowly the page polls).
    let releaseSecond!: () => void;
    const secondHeld = new Promise<void>((resolve) => (releaseSecond = resolve));
    const receiver = await recipientServer(async (_call, n) => {
      if (n === 1) return { status: 503, text: "busy" };
      await secondHeld;
      return { status: 200, json: {} };
    });
    const id = uniqueId("page-notifying");
    await client.start({ id, request: {}, recipients: [{ id: "a", simulate: { value: 1 } }], onClose: { url: `${receiver.url}/hooks` } });
    await page.goto(`${target.baseUrl}/api/ui#${id}`);
    // Switching from the finished gather of the test before: nothing of it shows under this id.
    await page.waitForSelector(`#gather-id:text-is("${id}")`);
    expect(await page.getAttribute("#watch", "data-done")).toBeNull();
    expect(await page.textContent("#counts")).toMatch(/^$|^1 recipients/); // the test before watched 2
    try {
      await page.waitForSelector('#closed-by:text-matches("^closed: its result is written; delivering its close event")', {
        timeout: 10_000,
      });
    } finally {
      releaseSecond();
    }
    await page.waitForSelector(doneWith(id), { timeout: 20_000 });
    expect(await page.textContent("#closed-by")).toMatch(/; close event delivered \(2 attempts, HTTP 200\)$/);
  });

  test("starting the id being watched again: the page watches the new run (the auction example's id is fixed)", async () => {
    const id = uniqueId("page-again");
    const body = (latencyMs: number, n: number) =>
      JSON.stringify({
        id,
        request: {},
        recipients: Array.from({ length: n }, (_, i) => ({ id: `r${i}`, simulate: { latencyMs, value: i } })),
      });
    await page.fill("#editor", body(0, 1));
    await page.click("#start-button");
    await page.waitForSelector(doneWith(id), { timeout: 15_000 });
    expect(await page.textContent("#counts")).toMatch(/^1 recipients: succeeded 1,/);
    await page.fill("#editor", body(1500, 3));
    await page.click("#start-button");
    await page.waitForSelector("#runtime-status.status-Running", { timeout: 10_000 });
    await page.waitForSelector(doneWith(id), { timeout: 15_000 });
    expect(await page.textContent("#counts")).toMatch(/^3 recipients: succeeded 3,/);
    await client.delete(id);
  });

  describe("against a stubbed API (what the host rarely shows on cue)", () => {
    /** Answers the page's reads of gather `id` with `status()` and `responses(query)`; other routes go to the host. */
    async function stub(id: string, status: () => { code?: number; body: unknown }, responses?: (q: URLSearchParams) => unknown) {
      const matches = (url: URL) => url.pathname === `/api/scatter-gather/${id}` || url.pathname === `/api/scatter-gather/${id}/responses`;
      await page.route(matches, async (route) => {
        const url = new URL(route.request().url());
        if (url.pathname.endsWith("/responses")) {
          const body = responses ? responses(url.searchParams) : { items: [], offset: 0, limit: 25, total: 0, nextUri: null };
          return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
        }
        const { code = 200, body } = status();
        return route.fulfill({ status: code, contentType: "application/json", body: JSON.stringify(body) });
      });
      return () => page.unroute(matches);
    }
    /** The page `q` asks for (offset, limit) of `total` entries, `entry(n)` the n-th; at most `perPage` (the API's byte limit). */
    const pageOf = (q: URLSearchParams, total: number, entry: (n: number) => unknown, perPage = Infinity) => {
      const [offset, limit] = [Number(q.get("offset")), Number(q.get("limit"))];
      const count = Math.max(0, Math.min(limit, perPage, total - offset));
      const items = Array.from({ length: count }, (_, i) => entry(offset + i));
      return { items, offset, limit, total, nextUri: offset + count < total ? "http://x/" : null };
    };
    const running = (id: string, deadline: string | null) => ({
      id,
      runtimeStatus: "Running",
      createdTime: new Date().toISOString(),
      lastUpdatedTime: new Date().toISOString(),
      policy: { completion: { mode: "all", timeoutMs: 600_000 }, aggregate: { kind: "collect" } },
      progress: { phase: "gathering", total: 60, succeeded: 0, failed: 0, pending: 60, deadline },
      result: null,
    });

    test("a Failed orchestration says why", async () => {
      const id = uniqueId("stub-failed");
      const unstub = await stub(id, () => ({
        body: { ...running(id, null), runtimeStatus: "Failed", error: "Orchestrator function 'x' failed: the timer is over the limit" },
      }));
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector(doneWith(id));
        expect(await page.textContent("#closed-by")).toBe(
          "failed, no result: Orchestrator function 'x' failed: the timer is over the limit",
        );
      } finally {
        await unstub();
      }
    });

    test("the countdown in whole seconds (never '1 min 60 s'), hours past an hour", async () => {
      const id = uniqueId("stub-countdown");
      let deadline = "";
      const unstub = await stub(id, () => ({ body: running(id, deadline) }));
      try {
        deadline = new Date(Date.now() + 119_700).toISOString();
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector(`#watch[data-id="${id}"] #runtime-status.status-Running`);
        expect(await page.textContent("#deadline")).toMatch(/^(2 min 0 s|1 min 59 s)$/);
        deadline = new Date(Date.now() + 432_000_000 - 30_000).toISOString();
        await page.waitForSelector('#deadline:text-is("4 d 23 h")', { timeout: 5000 });
      } finally {
        await unstub();
      }
    });

    test("a gather that is gone while watched: not found, nothing left to act on", async () => {
      const id = uniqueId("stub-gone");
      let there = true;
      const unstub = await stub(id, () =>
        there
          ? { body: running(id, new Date(Date.now() + 60_000).toISOString()) }
          : { code: 404, body: { error: { code: "not_found", message: "no gather" } } },
      );
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector(`#watch[data-id="${id}"] #runtime-status.status-Running`);
        expect(await page.isDisabled("#terminate")).toBe(false);
        there = false;
        await page.waitForSelector('#runtime-status:text-is("not found (deleted?)")', { timeout: 5000 });
        expect(await page.isDisabled("#terminate")).toBe(true);
        expect(await page.isDisabled("#delete")).toBe(true);
        expect(await page.textContent("#deadline")).toBe("—");
      } finally {
        await unstub();
      }
    });

    test("the table: a page past the end (fewer match the filter now) falls back to the last; pages that end early are followed", async () => {
      const id = uniqueId("stub-paging");
      let matching = 60; // entries the filter matches
      const perPage = 20; // the API's pages end early (its byte limit), at 20 of the 25 asked
      const unstub = await stub(
        id,
        () => ({ body: running(id, null) }),
        (q) => pageOf(q, matching, (n) => ({ recipientId: `r${n}`, status: "pending" }), perPage),
      );
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector('#page-info:text-is("1–20 of 60")');
        await page.click("#page-next");
        await page.waitForSelector('#page-info:text-is("21–40 of 60")'); // from 20, not 25: none skipped
        await page.click("#page-next");
        await page.waitForSelector('#page-info:text-is("41–60 of 60")');
        await page.click("#page-prev");
        await page.waitForSelector('#page-info:text-is("21–40 of 60")');
        await page.click("#page-next");
        await page.waitForSelector('#page-info:text-is("41–60 of 60")');
        matching = 7;
        await page.waitForSelector('#page-info:text-is("1–7 of 7")', { timeout: 5000 });
        expect(await page.isDisabled("#page-prev")).toBe(true);
      } finally {
        await unstub();
      }
    });

    test("a poll that failed says so until a poll succeeds; a gather closed and delivering its close event has nothing to terminate", async () => {
      const id = uniqueId("stub-flaky");
      let answer: "down" | "gathering" | "done" = "down";
      const unstub = await stub(id, () =>
        answer === "down"
          ? { code: 503, body: { error: { code: "unavailable", message: "host starting" } } }
          : {
              body: {
                ...running(id, new Date(Date.now() + 60_000).toISOString()),
                progress: { ...running(id, null).progress, phase: answer, deadline: new Date(Date.now() + 60_000).toISOString() },
              },
            },
      );
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector('#action-state:has-text("503")');
        answer = "gathering";
        for (const t0 = Date.now(); (await page.textContent("#action-state")) !== "" && Date.now() - t0 < 5000;)
          await page.waitForTimeout(50);
        expect(await page.textContent("#action-state")).toBe("");
        expect(await page.isDisabled("#terminate")).toBe(false);
        answer = "done";
        await page.waitForSelector('#deadline:text-is("closed")', { timeout: 5000 });
        expect(await page.isDisabled("#terminate")).toBe(true);
      } finally {
        await unstub();
      }
    });

    test("large answers: the table and the histogram are read less often (about 500 KB a second at most)", async () => {
      const id = uniqueId("stub-large");
      const big = "x".repeat(100_000);
      const reads = { table: 0, histogram: 0 };
      const unstub = await stub(
        id,
        () => ({ body: running(id, null) }),
        (q) => {
          reads[q.get("limit") === "1000" ? "histogram" : "table"]++;
          return pageOf(q, 60, (n) => ({ recipientId: `r${n}`, status: "succeeded", value: big, durationMs: n }));
        },
      );
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector('#page-info:text-is("1–25 of 60")');
        await page.waitForTimeout(6000);
        // 2.5 MB a table page: every 5 s (not every second); 6 MB a histogram: every 12 s (not every 2 s).
        expect(reads.table).toBeLessThanOrEqual(3);
        expect(reads.histogram).toBeLessThanOrEqual(1);
      } finally {
        await unstub();
      }
    });

    test("an auction without an expected count: answers so far, not a full bar", async () => {
      const id = uniqueId("stub-open-auction");
      const unstub = await stub(id, () => ({
        body: {
          ...running(id, new Date(Date.now() + 60_000).toISOString()),
          policy: {
            completion: { mode: "all", timeoutMs: 60_000 },
            aggregate: { kind: "collect" },
            auction: { expected: null, notify: 0 },
          },
          progress: {
            phase: "gathering",
            total: 3,
            succeeded: 3,
            failed: 0,
            pending: 0,
            deadline: new Date(Date.now() + 60_000).toISOString(),
          },
        },
      }));
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector('#counts:text-is("3 answers so far; it takes answers until its deadline (no expected count)")');
        expect(await page.$eval("#progress .ok", (bar) => (bar as unknown as { style: { width: string } }).style.width)).toBe("0px");
      } finally {
        await unstub();
      }
    });

    test("an answer to an older read of the table (another page or filter) is dropped", async () => {
      const id = uniqueId("stub-race");
      let releaseSlow!: () => void;
      const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
      const unstub = await stub(
        id,
        () => ({ body: { ...running(id, null), runtimeStatus: "Completed", result: null } }),
        (q) =>
          q.get("status") === "failed"
            ? pageOf(q, 2, (n) => ({ recipientId: `f${n}`, status: "failed" }))
            : pageOf(q, 60, (n) => ({ recipientId: `r${n}`, status: "succeeded" })),
      );
      // The table's second page is slow to come.
      const page2 = (url: URL) =>
        url.pathname === `/api/scatter-gather/${id}/responses` &&
        url.searchParams.get("offset") === "25" &&
        url.searchParams.get("limit") === "25";
      await page.route(page2, async (route) => {
        await slow;
        await route.fallback();
      });
      try {
        await page.goto(`${target.baseUrl}/api/ui#${id}`);
        await page.waitForSelector(doneWith(id));
        await page.click("#page-next");
        await page.selectOption("#status-filter", "failed");
        await page.waitForSelector('#page-info:text-is("1–2 of 2")');
        releaseSlow();
        await page.waitForTimeout(300);
        expect(await page.textContent("#page-info")).toBe("1–2 of 2");
        expect(await page.$$eval("#responses tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-recipient")))).toEqual(["f0", "f1"]);
      } finally {
        releaseSlow();
        await page.unroute(page2);
        await unstub();
        await page.selectOption("#status-filter", "");
      }
    });
  });

  test("validation errors from the API are shown next to the field path they name", async () => {
    const annotated = () =>
      page.$$eval("#annotated .bad-line", (lines) =>
        lines.map((l) => ({
          line: l.firstChild!.textContent!.trim(),
          notes: [...l.querySelectorAll(".note")].map((n) => n.getAttribute("data-path")),
        })),
      );
    // shape errors (zod): a bad URL, an unknown field
    await page.fill("#editor", JSON.stringify({ request: {}, recipients: [{ id: "a", url: "ftp://x", colour: "red" }] }));
    await page.click("#start-button");
    await page.waitForSelector("#annotated .note");
    expect(await page.textContent("#errors-summary")).toMatch(/^400: /);
    expect(await annotated()).toEqual([
      { line: '"url": "ftp://x",', notes: ["recipients[0].url"] },
      { line: '"colour": "red"', notes: ["recipients[0].colour"] },
    ]);
    // rules across fields: a duplicate id, a missing quorum and a missing field (on their parent's line)
    await page.fill(
      "#editor",
      JSON.stringify({
        request: {},
        recipients: [
          { id: "a", simulate: {} },
          { id: "a", simulate: {} },
        ],
        completion: { mode: "quorum" },
        aggregate: { kind: "best" },
      }),
    );
    await page.click("#start-button");
    await page.waitForSelector('#annotated .note[data-path="completion.quorum"]');
    expect(await annotated()).toEqual([
      { line: '"id": "a",', notes: ["recipients[1].id"] },
      { line: '"completion": {', notes: ["completion.quorum"] },
      { line: '"aggregate": {', notes: ["aggregate.field"] },
    ]);
    expect(await page.textContent('#annotated .note[data-path="completion.quorum"]')).toBe(
      '   ← completion.quorum: is required with mode "quorum"',
    );
  });

  test("an auction from the page: answers raised from the form, the aggregate, then delete", async () => {
    const notify = await recipientServer();
    await page.click("#examples button[data-example=auction]");
    const body = JSON.parse(await page.inputValue("#editor"));
    expect(body).toMatchObject({ id: "rfq-7", auction: { expected: 2 } });
    const id = uniqueId("page-rfq");
    await page.fill("#editor", JSON.stringify({ ...body, id, auction: { ...body.auction, notify: [`${notify.url}/rfq`] } }, null, 2));
    await page.click("#start-button");
    await page.waitForSelector(`#gather-id:text-is("${id}")`);
    await page.waitForSelector("#runtime-status.status-Running");
    await notify.waitForCalls(1);
    expect(await page.textContent("#policy")).toBe("auction, all, deadline 60000 ms, best price min"); // the order the gather runs with

    expect(await page.isHidden("#answer-box")).toBe(false);
    await page.click("#answer-box summary");
    for (const [responder, price, shown] of [
      ["bidder-1", 100, "accepted"],
      ["bidder-1", 10, "not taken: the responder answered already: the first answer wins"],
      ["bidder-2", 90, "accepted"],
    ] as const) {
      await page.fill("#responder", responder);
      await page.fill("#answer-value", JSON.stringify({ price }));
      await page.click("#answer-form button");
      await page.waitForSelector(`#answer-state:text-is("${shown}")`);
      await page.$eval("#answer-state", (state) => (state.textContent = ""));
    }
    await page.waitForSelector(doneWith(id), { timeout: 20_000 });
    const status = await client.get(id);
    expect(status.result?.aggregate).toMatchObject({ kind: "best", recipientId: "bidder-2", value: { price: 90 } });
    expect(JSON.parse((await page.textContent("#aggregate"))!)).toEqual(status.result!.aggregate);
    expect(await page.$$eval("#responses tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-recipient")))).toEqual([
      "bidder-1",
      "bidder-2",
    ]);

    // a late answer: 410, shown as such
    await page.fill("#responder", "bidder-3");
    await page.click("#answer-form button");
    await page.waitForSelector('#answer-state:text-is("too late: the gather is closed")');

    page.once("dialog", (dialog) => void dialog.accept());
    await page.click("#delete");
    await page.waitForSelector("#watch", { state: "hidden" });
    await expect(client.get(id)).rejects.toMatchObject({ status: 404 });
  });

  test("redrive a finished gather's failed recipient from the page", async () => {
    let down = true;
    const server = await recipientServer(() => (down ? { status: 500, json: { down } } : { json: { price: 7 } }));
    const id = uniqueId("page-redrive");
    await page.fill(
      "#editor",
      JSON.stringify({
        id,
        request: {},
        recipients: [
          { id: "ok", simulate: { latencyMs: 0, value: { price: 1 } } },
          { id: "flaky", url: `${server.url}/quote` },
        ],
      }),
    );
    await page.click("#start-button");
    await page.waitForSelector(`#gather-id:text-is("${id}")`);
    await page.waitForSelector(doneWith(id), { timeout: 15_000 });
    await page.waitForSelector("#redrive", { state: "visible", timeout: 15_000 });
    down = false;
    await page.click("#redrive");
    await page.waitForSelector("#counts:has-text('redriven 1×')", { timeout: 15_000 });
    expect(await page.textContent("#counts")).toContain("succeeded 2, failed 0");
    expect(await page.isVisible("#redrive")).toBe(false);
    expect(server.count).toBe(2);
    await client.delete(id);
  });

  test("terminate a running gather from the page; a callback recipient shows as waiting for its reply", async () => {
    const id = uniqueId("page-long");
    const callback = await recipientServer(() => ({ status: 202, text: "" }));
    await page.fill(
      "#editor",
      JSON.stringify({
        id,
        request: {},
        recipients: [
          { id: "slow", simulate: { latencyMs: 30_000, value: 1 } },
          { id: "cb", url: `${callback.url}/work`, reply: "callback" },
        ],
        completion: { timeoutMs: 40_000 },
      }),
    );
    await page.click("#start-button");
    await page.waitForSelector(`#gather-id:text-is("${id}")`);
    await page.waitForSelector("#runtime-status.status-Running");
    expect(await page.isDisabled("#delete")).toBe(true);
    const a = (await page.textContent("#deadline"))!;
    await page.waitForTimeout(400);
    const b = (await page.textContent("#deadline"))!;
    expect(parseFloat(b)).toBeLessThan(parseFloat(a)); // counting down
    await page.waitForSelector(`#counts:text-is("2 recipients: succeeded 0, failed 0, pending 2 (1 waiting for reply)")`);
    await page.waitForSelector("#responses tbody tr:nth-child(2)");
    expect(await page.$$eval("#responses tbody tr", (trs) => trs.map((tr) => tr.textContent))).toEqual([
      "slowpending",
      "cbpending waiting for reply",
    ]);

    await page.click("#terminate");
    await page.waitForSelector("#runtime-status.status-Terminated", { timeout: 15_000 });
    expect(await page.textContent("#closed-by")).toBe("terminated, no result");
    // Whoever it had not settled is abandoned; it will never aggregate; it took no auction answers.
    await page.waitForSelector(`#counts:text-is("2 recipients: succeeded 0, failed 0, pending 0, abandoned 2")`);
    expect(await page.textContent("#aggregate")).toBe("(none: the gather ended without a result)");
    expect(await page.isHidden("#answer-box")).toBe(true);
    await pollUntil(target, id, (s) => s.runtimeStatus === "Terminated");
    await client.delete(id);
  });
});
