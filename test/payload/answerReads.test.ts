/**
 * Reading answers back where the service does it: the aggregation activity (aggregateResponses), on a
 * real Azurite behind the fault proxy, and on the in-memory store. A cut body is read again; a lost answer
 * is an error naming its blob, never a null value.
 */
import { aggregateResponses } from "../../src/functions/aggregateResponses";
import type { AggregatePlan } from "../../src/gather/aggregation";
import { packOutcomes, type RecipientOutcome } from "../../src/gather/outcomes";
import { RunPayloads } from "../../src/gather/runPayloads";
import type { RunRef } from "../../src/gather/types";
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
function blobStore(): PayloadStore {
  return createBlobPayloadStore(
    {
      connection: readPayloadStoreConfig({ AzureWebJobsStorage: azuriteConnectionString(proxy.port) }).connection,
      container: `reads-${process.pid}-${++containerSeq}`,
    },
    { retry: { firstDelayMs: 50, maxDelayMs: 500, maxElapsedMs: 15_000, tryTimeoutMs: 5_000 } },
  );
}

interface Gather {
  run: RunRef;
  payloads: RunPayloads;
  ids: string[];
  values: unknown[];
  outcomes: RecipientOutcome[];
}

/** `n` recipients that all answered `value(i)`, stored as callRecipient stores them (in answer groups). */
async function answered(store: PayloadStore, instanceId: string, n: number, value: (i: number) => unknown): Promise<Gather> {
  const run = { instanceId, runId: "r" };
  const payloads = new RunPayloads(store, run);
  const ids = Array.from({ length: n }, (_, i) => `r${i}`);
  await payloads.storeRecipients(ids.map((id) => ({ id, simulate: { latencyMs: 0, failureRate: 0, value: 1 } })));
  const values = ids.map((_, i) => value(i));
  const refs = await Promise.all(
    values.map((v, i) => payloads.storeAnswer(i, { recipientId: ids[i], attempts: 1, durationMs: i }, Buffer.from(JSON.stringify(v)))),
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
