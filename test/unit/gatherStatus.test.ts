/** What GET /api/scatter-gather/{id} adds to the custom status (src/views/gatherStatus.ts). */
import type { DurableOrchestrationStatus } from "durable-functions";
import { batchIdsOf, batchPrefixOf } from "../../src/durable/client";
import { customStatusesByPrefix, policyOf, withBatchCounts } from "../../src/views/gatherStatus";

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
    ];
    expect(withBatchCounts(parent, batches)).toEqual({ ...parent, succeeded: 410, failed: 3, pending: 187 });
    // A batch not started yet (no status) or unreadable counts nothing; the parent's figures stay the floor.
    expect(withBatchCounts(parent, [null, { phase: "gathering" }])).toEqual(parent);
  });

  test("one instance query by prefix through the client's endpoint, following continuation tokens", async () => {
    const urls: string[] = [];
    const pages = [
      { body: [{ customStatus: { succeeded: 1 } }], token: "t1" },
      { body: [{ customStatus: { succeeded: 2 } }, {}], token: "" },
    ];
    const fetchImpl = (async (url: string) => {
      urls.push(url);
      const page = pages.shift()!;
      return new Response(JSON.stringify(page.body), { status: 200, headers: page.token ? { "x-ms-continuation-token": page.token } : {} });
    }) as unknown as typeof fetch;
    expect(await customStatusesByPrefix("http://127.0.0.1:17071/durabletask/", "g~batch-x-", fetchImpl)).toEqual([
      { succeeded: 1 },
      { succeeded: 2 },
      null,
    ]);
    expect(urls).toHaveLength(2);
    expect(new URL(urls[0]).searchParams.get("instanceIdPrefix")).toBe("g~batch-x-");
    expect(new URL(urls[0]).origin).toBe("http://127.0.0.1:17071");
  });
});
