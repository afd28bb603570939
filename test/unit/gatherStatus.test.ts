/** What GET /api/scatter-gather/{id} adds to the custom status (src/views/gatherStatus.ts). */
import type { DurableOrchestrationStatus } from "durable-functions";
import { batchIdsOf, batchPrefixOf } from "../../src/durable/client";
import {
  batchStatusesByPrefix,
  liveProgress,
  LIVE_LIST_ROWS,
  policyOf,
  batchStates,
  withBatchCounts,
  withLiveListProgress,
} from "../../src/views/gatherStatus";

describe("gather status", () => {
  test("policy: the specs of the input, never the run, URLs or data references", () => {
    const input = {
      run: { instanceId: "g", runId: "r" },
      recipientCount: 3,
      completion: { mode: "quorum", quorum: 2, agree: false, timeoutMs: 5000 },
      aggregate: { kind: "best", field: "price", order: "min" },
      retry: { maxAttempts: 3, firstRetryIntervalMs: 100, backoffCoefficient: 2, maxRetryIntervalMs: 5000 },
      responsesUri: "http://x/responses",
      fanoutBatchSize: 250,
    };
    expect(policyOf(input)).toEqual({ completion: input.completion, aggregate: input.aggregate, retry: input.retry });
    const auction = {
      ...input,
      retry: undefined,
      auction: { notify: ["http://a", "http://b"], expected: 2, respondUrl: "http://x/answers" },
    };
    expect(policyOf(auction)).toMatchObject({ auction: { expected: 2, notify: 2 } });
    expect(JSON.stringify(policyOf(auction))).not.toContain("http://");
    // The input's normalized order shows only where it means something: "best".
    for (const kind of ["collect", "summary", "vote"])
      expect(policyOf({ ...input, aggregate: { kind, field: "price", order: "min" } })).toMatchObject({
        aggregate: { kind, field: "price" },
      });
    expect(policyOf({ ...input, aggregate: { kind: "collect", order: "min" } })?.aggregate).toEqual({ kind: "collect" });
    expect(policyOf(null)).toBeNull();
  });

  test("batch prefix: only for a gather large enough to have batches", () => {
    const status = (input: unknown) => ({ instanceId: "g", input }) as unknown as DurableOrchestrationStatus;
    expect(batchPrefixOf(status({ recipientCount: 600, fanoutBatchSize: 250, batchIdPrefix: "g~batch-abcd1234-" }))).toBe(
      "g~batch-abcd1234-",
    );
    expect(batchPrefixOf(status({ recipientCount: 600, fanoutBatchSize: 250 }))).toBe("g~batch-");
    expect(batchPrefixOf(status({ recipientCount: 200, fanoutBatchSize: 250 }))).toBeUndefined();
    // and the ids terminate and DELETE reach, from the same prefix
    expect(batchIdsOf(status({ recipientCount: 600, fanoutBatchSize: 250, batchIdPrefix: "g~batch-abcd1234-" }))).toEqual([
      "g~batch-abcd1234-0",
      "g~batch-abcd1234-1",
      "g~batch-abcd1234-2",
    ]);
    expect(batchIdsOf(status({ recipientCount: 200, fanoutBatchSize: 250 }))).toEqual([]);
  });

  test("the batches' counts summed in, never below the parent's", () => {
    const parent = { phase: "gathering" as const, total: 600, succeeded: 250, failed: 0, pending: 350, deadline: null };
    const batches = [
      { phase: "gathering", total: 250, succeeded: 250, failed: 0, pending: 0 },
      { phase: "gathering", total: 250, succeeded: 120, failed: 3, pending: 127 },
      { phase: "gathering", total: 100, succeeded: 40, failed: 0, pending: 60 },
    ].map((customStatus) => ({ runtimeStatus: "Running", customStatus }));
    expect(withBatchCounts(parent, batches)).toEqual({ ...parent, succeeded: 410, failed: 3, pending: 187 });
    // A batch not started yet (no status) or unreadable counts nothing; the parent's figures stay the floor.
    expect(withBatchCounts(parent, [{ customStatus: null }, { customStatus: { phase: "gathering" } }])).toEqual(parent);
  });

  test("a redrive's batches count on top of the outcomes it keeps", () => {
    // 300 recipients, 200 kept successes, 100 redriven in two batches of 50: 5 and 0 answers so far.
    const kept = { total: 200, succeeded: 200, failed: 0, timedOut: 0, abandoned: 0 };
    const parent = { phase: "gathering" as const, total: 300, succeeded: 200, failed: 0, pending: 100, deadline: null };
    const batches = [
      { runtimeStatus: "Running", customStatus: { phase: "gathering", total: 50, succeeded: 5, failed: 1, pending: 44 } },
      { runtimeStatus: "Running", customStatus: { phase: "gathering", total: 50, succeeded: 0, failed: 0, pending: 50 } },
    ];
    expect(withBatchCounts(parent, batches, kept)).toEqual({ ...parent, succeeded: 205, failed: 1, pending: 94 });
  });

  test("a batch that failed internally counts nothing of its own: the parent counts its recipients failed", () => {
    // Batch 0 (100) failed after 60 answers; the parent has counted its 100 recipients failed. Batch 1 runs.
    const parent = { phase: "gathering" as const, total: 200, succeeded: 0, failed: 100, pending: 100, deadline: null };
    const batches = [
      { runtimeStatus: "Failed", customStatus: { phase: "gathering", total: 100, succeeded: 60, failed: 0, pending: 40 } },
      { runtimeStatus: "Running", customStatus: { phase: "gathering", total: 100, succeeded: 30, failed: 0, pending: 70 } },
    ];
    expect(withBatchCounts(parent, batches)).toEqual({ ...parent, succeeded: 30, failed: 100, pending: 70 });
  });

  test("a batched gather terminated while it gathered: its batches' counts, the rest abandoned once, adding up to the total", async () => {
    const batch = (n: number, succeeded: number, failed: number) => ({
      instanceId: `g1~batch-r-${n}`,
      runtimeStatus: "Terminated",
      customStatus: { phase: "gathering", total: 5, succeeded, failed, pending: 5 - succeeded - failed, deadline: null },
    });
    const fetchImpl = (async () =>
      new Response(JSON.stringify([batch(0, 4, 0), batch(1, 2, 1)]), { status: 200 })) as unknown as typeof fetch;
    const status = {
      instanceId: "g1",
      runtimeStatus: "Terminated",
      customStatus: { phase: "gathering", total: 10, succeeded: 0, failed: 0, pending: 10, deadline: null },
      input: { recipientCount: 10, fanoutBatchSize: 5, batchIdPrefix: "g1~batch-r-" },
    } as unknown as DurableOrchestrationStatus;
    const progress = await liveProgress(status, "http://127.0.0.1:17071/durabletask/", () => undefined, fetchImpl);
    expect(progress).toEqual({ phase: "done", total: 10, succeeded: 6, failed: 1, abandoned: 3, pending: 0, deadline: null });
  });

  test("the list: live progress for the newest rows that may have batches (running, or ended without a result), the others their own", async () => {
    const own = (total: number) => ({ phase: "gathering", total, succeeded: 0, failed: 0, pending: total, deadline: null });
    const rows = [
      { id: "small", runtimeStatus: "Running", progress: own(250) }, // within one batch of 250
      { id: "big", runtimeStatus: "Running", progress: own(600) },
      { id: "done", runtimeStatus: "Completed", progress: { ...own(600), phase: "done", pending: 0, succeeded: 600 } },
      { id: "cut", runtimeStatus: "Terminated", progress: { ...own(600), phase: "done", pending: 0, abandoned: 600 } },
      { id: "gone", runtimeStatus: "Running", progress: own(600) },
      { id: "broken", runtimeStatus: "Running", progress: own(600) },
      { id: "starting", runtimeStatus: "Pending", progress: null },
    ];
    const read: string[] = [];
    const warned: string[] = [];
    const live = await withLiveListProgress(
      rows,
      250,
      async (id) => {
        read.push(id);
        if (id === "gone") return undefined;
        if (id === "broken") throw new Error("query failed");
        return { ...own(600), succeeded: 358, pending: 242, read: id };
      },
      (message) => warned.push(message),
    );
    expect(read.sort()).toEqual(["big", "broken", "cut", "gone"]);
    expect(live.map((r) => (r.progress as { read?: string } | null)?.read ?? r.progress)).toEqual([
      rows[0].progress,
      "big",
      rows[2].progress,
      "cut",
      rows[4].progress,
      rows[5].progress,
      null,
    ]);
    expect(warned).toEqual([expect.stringMatching(/^progress of broken in the list: its own, .*\(query failed\)$/)]);

    // The newest LIVE_LIST_ROWS of them only, five reads at a time.
    const many = Array.from({ length: LIVE_LIST_ROWS + 5 }, (_, i) => ({ id: `g${i}`, runtimeStatus: "Running", progress: own(600) }));
    let atOnce = 0;
    let most = 0;
    const asked: string[] = [];
    await withLiveListProgress(
      many,
      250,
      async (id) => {
        asked.push(id);
        most = Math.max(most, ++atOnce);
        await new Promise((resolve) => setTimeout(resolve, 5));
        atOnce--;
        return own(600);
      },
      () => undefined,
    );
    expect(asked).toEqual(many.slice(0, LIVE_LIST_ROWS).map((r) => r.id));
    expect(most).toBe(5);
  });

  test("one instance query by prefix through the client's endpoint, following continuation tokens", async () => {
    const urls: string[] = [];
    const pages = [
      { body: [{ runtimeStatus: "Running", customStatus: { succeeded: 1 } }], token: "t1" },
      { body: [{ runtimeStatus: "Completed", customStatus: { succeeded: 2 } }, {}], token: "" },
    ];
    const fetchImpl = (async (url: string) => {
      urls.push(url);
      const page = pages.shift()!;
      return new Response(JSON.stringify(page.body), { status: 200, headers: page.token ? { "x-ms-continuation-token": page.token } : {} });
    }) as unknown as typeof fetch;
    expect(await batchStatusesByPrefix("http://127.0.0.1:17071/durabletask/", "g~batch-x-", fetchImpl)).toEqual([
      { instanceId: undefined, runtimeStatus: "Running", customStatus: { succeeded: 1 } },
      { instanceId: undefined, runtimeStatus: "Completed", customStatus: { succeeded: 2 } },
      { instanceId: undefined, runtimeStatus: undefined, customStatus: null },
    ]);
    expect(urls).toHaveLength(2);
    expect(new URL(urls[0]).searchParams.get("instanceIdPrefix")).toBe("g~batch-x-");
    expect(new URL(urls[0]).origin).toBe("http://127.0.0.1:17071");
  });

  test("batch states: done or ended is stopped, no status is gathering; one query at a time per endpoint and prefix, and one a second", async () => {
    const rpc = "http://127.0.0.1:17071/durabletask/";
    let queries = 0;
    let release: (() => void) | undefined;
    let batches: object[] = [
      { instanceId: "g~batch-x-0", runtimeStatus: "Running", customStatus: { phase: "gathering" } },
      { instanceId: "g~batch-x-1", runtimeStatus: "Running", customStatus: { phase: "done" } },
      { instanceId: "g~batch-x-2", runtimeStatus: "Completed", customStatus: { phase: "gathering" } },
      { instanceId: "g~batch-x-3", runtimeStatus: "Pending", customStatus: null },
      { instanceId: "g~batch-x-4", customStatus: null }, // no status given: gathering, never taken for stopped
    ];
    const fetchImpl = (async () => {
      queries++;
      const body = JSON.stringify(batches);
      if (release === undefined) return new Response(body, { status: 200 });
      await new Promise<void>((resolve) => (release = resolve));
      return new Response(body, { status: 200 });
    }) as unknown as typeof fetch;
    let now = 5_000_000;
    const clock = () => now;
    const asked = await Promise.all([0, 1, 2].map(() => batchStates(rpc, "g~batch-x-", clock, fetchImpl)));
    expect(Object.fromEntries(asked[0])).toEqual({
      "g~batch-x-0": false,
      "g~batch-x-1": true,
      "g~batch-x-2": true,
      "g~batch-x-3": false,
      "g~batch-x-4": false,
    });
    expect(asked[0].has("g~batch-x-9")).toBe(false); // not listed: the caller reads that batch's own status
    expect(queries).toBe(1);
    batches = batches.map((b) => ({ ...b, customStatus: { phase: "done" } }));
    now += 999;
    expect((await batchStates(rpc, "g~batch-x-", clock, fetchImpl)).get("g~batch-x-0")).toBe(false); // the last read, 999 ms old
    // A slow query: everyone who asks while it runs, however long, shares it; the next may start a second after it settled.
    release = () => undefined;
    now += 1;
    const slow = batchStates(rpc, "g~batch-x-", clock, fetchImpl);
    await new Promise((resolve) => setTimeout(resolve, 10));
    now += 5000;
    const meanwhile = batchStates(rpc, "g~batch-x-", clock, fetchImpl);
    expect(queries).toBe(2);
    release();
    expect((await slow).get("g~batch-x-0")).toBe(true);
    expect(await meanwhile).toBe(await slow);
    release = undefined;
    now += 999;
    await batchStates(rpc, "g~batch-x-", clock, fetchImpl);
    expect(queries).toBe(2);
    // Another run's batches (another prefix), or another endpoint, are another query.
    await batchStates(rpc, "g~batch-y-", clock, fetchImpl);
    await batchStates("http://127.0.0.1:17072/durabletask/", "g~batch-x-", clock, fetchImpl);
    expect(queries).toBe(4);
  });
});
