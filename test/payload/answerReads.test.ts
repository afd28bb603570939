/**
 * Reading answers back where the service does it: the aggregation activity (aggregateResponses) and the
 * responses route (GET /api/scatter-gather/{id}/responses, its handler with a stand-in durable client), on a
 * real Azurite behind the fault proxy (which also counts the requests that reach the store), and on the
 * in-memory store. A cut body is read again; a lost answer is an error naming its blob, never a null
 * value; the route reads a page's answers group by group, and a page is bounded in bytes.
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import * as df from "durable-functions";
import { aggregateResponses } from "../../src/functions/aggregateResponses";
import { getScatterGatherResponses } from "../../src/functions/getScatterGatherResponses";
import type { AggregatePlan } from "../../src/gather/aggregation";
import { packOutcomes, type RecipientOutcome } from "../../src/gather/outcomes";
import { responsesPage, type ResponseEntry } from "../../src/gather/responsesPage";
import { RunPayloads } from "../../src/gather/runPayloads";
import type { OrchestrationInput, RunRef } from "../../src/gather/types";
import { createBlobPayloadStore } from "../../src/payload/blobStore";
import { azuriteConnectionString, readPayloadStoreConfig } from "../../src/payload/config";
import { MemoryPayloadStore } from "../../src/payload/memoryStore";
import { setPayloadStore } from "../../src/payload";
import type { PayloadStore } from "../../src/payload/store";
import { startAzurite, type RunningAzurite } from "./azurite";
import { startFaultProxy, type FaultProxy } from "./faultProxy";

jest.setTimeout(120_000);

let azurite: RunningAzurite;
let proxy: FaultProxy;

beforeAll(async () => {
  azurite = await startAzurite();
  proxy = await startFaultProxy(azurite.port);
});

afterEach(() => {
  proxy?.disarm();
  jest.restoreAllMocks();
  setPayloadStore(undefined);
});

afterAll(async () => {
  await proxy?.close();
  await azurite?.stop();
});

let containerSeq = 0;
/** The store of the worker that wrote a blob store's answers (another process: its own cache). */
const writers = new WeakMap<PayloadStore, PayloadStore>();
function blobStore(): PayloadStore {
  const open = (container: string) =>
    createBlobPayloadStore(
      { connection: readPayloadStoreConfig({ AzureWebJobsStorage: azuriteConnectionString(proxy.port) }).connection, container },
      { retry: { firstDelayMs: 50, maxDelayMs: 500, maxElapsedMs: 15_000, tryTimeoutMs: 5_000 } },
    );
  const store = open(`reads-${process.pid}-${++containerSeq}`);
  writers.set(store, open(store.container));
  return store;
}

interface Gather {
  run: RunRef;
  payloads: RunPayloads;
  ids: string[];
  values: unknown[];
  outcomes: RecipientOutcome[];
}

/**
 * `n` recipients that all answered `value(i)`, stored as callRecipient stores them (in answer groups), by another
 * worker than the one reading them back here: a writer serves its own small groups from its cache.
 */
async function answered(store: PayloadStore, instanceId: string, n: number, value: (i: number) => unknown): Promise<Gather> {
  const run = { instanceId, runId: "r" };
  const payloads = new RunPayloads(store, run);
  const written = new RunPayloads(writers.get(store) ?? store, run);
  const ids = Array.from({ length: n }, (_, i) => `r${i}`);
  await payloads.storeRecipients(ids.map((id) => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: 1 } })));
  const values = ids.map((_, i) => value(i));
  const refs = await Promise.all(
    values.map((v, i) => written.storeAnswer(i, { recipientId: ids[i], attempts: 1, durationMs: i }, Buffer.from(JSON.stringify(v)))),
  );
  const outcomes = refs.map((answer, i): RecipientOutcome => ({ status: "succeeded", attempts: 1, durationMs: i, answer }));
  return { run, payloads, ids, values, outcomes };
}

function aggregate(gather: Gather, plan: AggregatePlan) {
  const n = gather.ids.length;
  const counts = { total: n, succeeded: n, failed: 0, timedOut: 0, abandoned: 0 };
  return aggregateResponses({
    run: gather.run,
    spec: plan.kind === "best" ? { kind: "best", field: plan.field, order: plan.order } : { kind: plan.kind, order: "min" },
    plan,
    outcomes: packOutcomes(gather.outcomes),
    summary: {
      id: gather.run.instanceId,
      outcome: "complete",
      closedBy: "all-responded",
      startedAt: "2030-01-01T00:00:00.000Z",
      closedAt: "2030-01-01T00:00:01.000Z",
      counts,
      responsesUri: `http://localhost:7071/api/scatter-gather/${gather.run.instanceId}/responses`,
    },
    report: { mode: "all", auction: false },
  });
}

/** GET …/responses through the route's handler, the instance's status from a stand-in durable client. */
async function getPage(gather: Gather, url: string, runtimeStatus = "Completed"): Promise<HttpResponseInit> {
  const input: Partial<OrchestrationInput> = {
    run: gather.run,
    recipientCount: gather.ids.length,
    responsesUri: `http://localhost:7071/api/scatter-gather/${gather.run.instanceId}/responses`,
  };
  jest.spyOn(df, "getClient").mockImplementation(
    () =>
      ({
        getStatus: async (instanceId: string) => ({ instanceId, runtimeStatus, input }),
      }) as unknown as df.DurableClient,
  );
  const request = new HttpRequest({ method: "GET", url, params: { id: gather.run.instanceId } });
  return getScatterGatherResponses(request, new InvocationContext({ functionName: "getScatterGatherResponses" }));
}

type Page = {
  items: { recipientId: string; status: string; value?: unknown; error?: string }[];
  offset: number;
  limit: number;
  total: number;
  nextUri: string | null;
};

describe("the aggregation activity", () => {
  test("item 4: bodies cut mid-way are read again; a gather of 500 stored answers gets all 500 values", async () => {
    const store = blobStore();
    setPayloadStore(store);
    const gather = await answered(store, "agg-cut", 500, (i) => ({ i, price: 1000 - i }));
    proxy.cut({ method: "GET", path: /\/answers\// }, 5, 40);
    const result = await aggregate(gather, { kind: "collect", count: 500, bytes: 500 * 25 });
    expect(proxy.armed()).toBe(0);
    expect(result.aggregate).toEqual({
      kind: "collect",
      count: 500,
      values: Object.fromEntries(gather.ids.map((id, i) => [id, gather.values[i]])),
    });
    expect(result.responses?.map((r) => r.value)).toEqual(gather.values);
  });

  test("item 6: a lost answer fails the aggregation with an error naming its blob, never a null value", async () => {
    const store = new MemoryPayloadStore();
    setPayloadStore(store);
    const gather = await answered(store, "agg-lost", 6, (i) => ({ i, price: 10 + i }));
    const lost = gather.outcomes[2].answer!;
    const key = gather.payloads.keys.answerGroup(lost.group);
    await store.deleteByPrefix(key);
    const named = `stored answer '${key}' (${lost.length} bytes at offset ${lost.offset}) cannot be read: the blob does not exist`;
    // collect: the first lost answer of the lost group (in list order) is named; best: the winner
    await expect(aggregate(gather, { kind: "collect", count: 6, bytes: 6 * 20 })).rejects.toThrow(
      /^stored answer '.+' \(\d+ bytes at offset \d+\) cannot be read: the blob does not exist/,
    );
    await expect(aggregate(gather, { kind: "collect", count: 6, bytes: 6 * 20 })).rejects.toThrow(`stored answer '${key}'`);
    await expect(aggregate(gather, { kind: "best", field: "price", order: "min", index: 2 })).rejects.toThrow(named);
    // a summary with the responses inline shows every value: it fails too
    const plan: AggregatePlan = { kind: "summary", field: "price", count: 6, sum: 75, average: 12.5, min: 10, max: 15 };
    await expect(aggregate(gather, plan)).rejects.toThrow(`stored answer '${key}'`);
    // a result that shows no value (responses over the inline budget) reads none: it completes, and the
    // responses route names the lost entries
    process.env.RESULT_INLINE_BYTES = "100";
    try {
      const summary = await aggregate(gather, plan);
      expect(summary.aggregate).toMatchObject({ kind: "summary", count: 6 });
      expect(summary).not.toHaveProperty("responses");
    } finally {
      delete process.env.RESULT_INLINE_BYTES;
    }
  });
});

describe("the responses route", () => {
  test("item 8: a page's answers are read group by group (a few range reads), not one request per answer", async () => {
    const store = blobStore();
    setPayloadStore(store);
    const gather = await answered(store, "route-groups", 500, (i) => ({ i, note: `answer ${i}` }));
    const groups = new Set(gather.outcomes.map((o) => o.answer!.group)).size;
    const answerGets = () => proxy.count({ method: "GET", path: new RegExp(`/route-groups/r/answers/`) });

    // while the gather runs: the entries come from one listing of the groups' metadata
    let before = answerGets();
    const running = (await getPage(gather, "http://localhost:7071/api/scatter-gather/route-groups/responses?limit=100", "Running"))
      .jsonBody as Page;
    const runningGets = answerGets() - before;
    expect(running.items.map((item) => item.value)).toEqual(gather.values.slice(0, 100));

    // finished: from the result document
    await aggregate(gather, { kind: "collect", count: 500, bytes: 500 * 25 });
    const perPage: number[] = [];
    const seen: unknown[] = [];
    let uri: string | null = "http://localhost:7071/api/scatter-gather/route-groups/responses?limit=100";
    while (uri) {
      before = answerGets();
      const page = (await getPage(gather, uri)).jsonBody as Page;
      perPage.push(answerGets() - before);
      seen.push(...page.items.map((item) => item.value));
      uri = page.nextUri;
    }
    expect(seen).toEqual(gather.values);
    console.log(
      `responses route, 500 answers in ${groups} groups, limit=100: answer reads per page ${JSON.stringify(perPage)} ` +
        `(finished), ${runningGets} (running, first page)`,
    );
    expect(perPage).toHaveLength(5);
    for (const reads of [...perPage, runningGets]) expect(reads).toBeLessThanOrEqual(Math.min(groups, 10));
  });

  test("item 7: a page is bounded in bytes (4 MiB); nextUri carries on where it stopped; every answer once", async () => {
    const store = blobStore();
    setPayloadStore(store);
    const big = (i: number) => ({ i, blob: `${i}:`.padEnd(64 * 1024, "x") });
    const gather = await answered(store, "route-bytes", 500, big);
    await aggregate(gather, { kind: "collect", count: 500, bytes: 500 * 65_536 });
    let uri: string | null = "http://localhost:7071/api/scatter-gather/route-bytes/responses?limit=1000";
    const sizes: number[] = [];
    const seen: number[] = [];
    const offsets: number[] = [];
    while (uri) {
      const response = await getPage(gather, uri);
      const page = response.jsonBody as Page;
      sizes.push(Buffer.byteLength(JSON.stringify(page), "utf8"));
      offsets.push(page.offset);
      expect(page).toMatchObject({ limit: 1000, total: 500 });
      seen.push(...page.items.map((item) => (item.value as { i: number }).i));
      if (page.nextUri) expect(new URL(page.nextUri).search).toBe(`?offset=${page.offset + page.items.length}&limit=1000`);
      uri = page.nextUri;
    }
    console.log(`responses route, 500 × 64 KiB answers, limit=1000: ${sizes.length} pages of ${JSON.stringify(sizes)} bytes`);
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
    for (const size of sizes) expect(size).toBeLessThanOrEqual(4 * 1024 * 1024);
    // full pages: the next entry would not have fitted
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThan(4 * 1024 * 1024 - 70 * 1024);
  });

  test("item 7: the byte bound holds on exact sizes, whatever the stored sizes suggest; one entry larger than it is a page alone", async () => {
    const store = new MemoryPayloadStore();
    const payloads = new RunPayloads(store, { instanceId: "bound", runId: "r" });
    // stored sizes that mislead both ways: padded JSON (smaller once parsed), 1e20 (larger: 100000000000000000000)
    const raw = (i: number) =>
      i % 3 === 0
        ? `{ "i" : ${i} ,${" ".repeat(300)}"n":1}`
        : i % 3 === 1
          ? `[${Array(40).fill("1e20").join(",")}]`
          : `"${"y".repeat(150)}"`;
    const entries = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const status = i % 7 === 6 ? "failed" : "succeeded";
        const answer = status === "succeeded" ? await payloads.storeAnswer(i, { recipientId: `r${i}` }, Buffer.from(raw(i))) : undefined;
        return { index: i, recipientId: `r${i}`, status, ...(answer ? { answer } : { error: "HTTP 503" }) } as ResponseEntry;
      }),
    );
    entries.push({
      index: 60,
      recipientId: "huge",
      status: "succeeded",
      answer: await payloads.storeAnswer(60, { recipientId: "huge" }, Buffer.from(`"${"z".repeat(5000)}"`)),
    });
    const read = (succeeded: readonly ResponseEntry[]) => payloads.readAnswers(succeeded.map((e) => e.answer!));
    for (const status of [undefined, "succeeded"] as const) {
      const matching = entries.filter((e) => !status || e.status === status);
      let offset = 0;
      const seen: string[] = [];
      let pages = 0;
      for (;;) {
        const page = await responsesPage(entries, { offset, limit: 1000, ...(status ? { status } : {}) }, "http://x/r", read, {
          maxBytes: 2000,
        });
        pages++;
        const bytes = Buffer.byteLength(JSON.stringify(page), "utf8");
        if (page.items.length > 1) expect(bytes).toBeLessThanOrEqual(2000);
        else if (bytes > 2000) expect(page.items[0].recipientId).toBe("huge");
        seen.push(...page.items.map((item) => item.recipientId));
        if (!page.nextUri) break;
        const next = new URL(page.nextUri).searchParams;
        expect(Number(next.get("offset"))).toBe(offset + page.items.length);
        expect(next.get("status")).toBe(status ?? null);
        // full: the next entry would not have fitted
        const nextItem = (
          await responsesPage(entries, { offset: offset + page.items.length, limit: 1, ...(status ? { status } : {}) }, "http://x/r", read)
        ).items[0];
        expect(bytes + Buffer.byteLength(JSON.stringify(nextItem), "utf8") + 1).toBeGreaterThan(2000);
        offset += page.items.length;
      }
      expect(seen).toEqual(matching.map((e) => e.recipientId));
      expect(pages).toBeGreaterThan(5);
    }
  });

  test("item 6: an answer that cannot be read is an entry with an error naming its blob, not a null value", async () => {
    const store = new MemoryPayloadStore();
    setPayloadStore(store);
    const gather = await answered(store, "route-lost", 8, (i) => ({ i }));
    await aggregate(gather, { kind: "summary", field: "i", count: 8, sum: 28, average: 3.5, min: 0, max: 7 });
    const lost = gather.outcomes[5].answer!;
    const key = gather.payloads.keys.answerGroup(lost.group);
    const inGroup = gather.outcomes.flatMap((o, i) => (o.answer!.group === lost.group ? [i] : []));
    await store.deleteByPrefix(key);
    const page = (await getPage(gather, "http://localhost:7071/api/scatter-gather/route-lost/responses")).jsonBody as Page;
    expect(page.items).toHaveLength(8);
    for (const [i, item] of page.items.entries()) {
      if (inGroup.includes(i)) {
        const ref = gather.outcomes[i].answer!;
        expect(item).not.toHaveProperty("value");
        expect(item).toMatchObject({ recipientId: `r${i}`, status: "succeeded" });
        expect(item.error).toBe(
          `stored answer '${key}' (${ref.length} bytes at offset ${ref.offset}) cannot be read: the blob does not exist (in container 'memory')`,
        );
      } else expect(item).toMatchObject({ recipientId: `r${i}`, status: "succeeded", value: { i } });
    }
    // while a gather runs, its entries come from the listing of its groups: a lost group is not listed, so
    // its recipients are `pending` (not yet stored, as far as the store can tell), with no value either
    const running = await answered(store, "route-lost-running", 8, (i) => ({ i }));
    const gone = running.outcomes[5].answer!.group;
    await store.deleteByPrefix(running.payloads.keys.answerGroup(gone));
    const runningPage = (await getPage(running, "http://localhost:7071/api/scatter-gather/route-lost-running/responses", "Running"))
      .jsonBody as Page;
    for (const [i, item] of runningPage.items.entries()) {
      if (running.outcomes[i].answer!.group === gone) expect(item).toEqual({ recipientId: `r${i}`, status: "pending" });
      else expect(item).toMatchObject({ status: "succeeded", value: { i } });
    }
  });
});
