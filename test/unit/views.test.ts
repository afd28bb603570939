/** The list route's query parsing and summaries (src/views/gatherList.ts), without a host. */
import type { DurableClient } from "durable-functions";
import { batchIdPrefix } from "../../src/gather/instanceIds";
import { isGather, listGathers, parseListQuery, summarize } from "../../src/views/gatherList";

const query = (q: Record<string, string>) => (name: string) => q[name] ?? null;

describe("gather list", () => {
  test("query: top 1..100 (default 20), dates, statuses", () => {
    expect(parseListQuery(query({}))).toEqual({ top: 20 });
    expect(
      parseListQuery(query({ top: "100", continuationToken: "t", createdFrom: "2026-01-01T00:00:00Z", runtimeStatus: "Running,Pending" })),
    ).toEqual({
      top: 100,
      continuationToken: "t",
      createdFrom: new Date("2026-01-01T00:00:00Z"),
      runtimeStatus: ["Running", "Pending"],
    });
    expect(parseListQuery(query({ top: "101" }))).toMatchObject({ error: expect.stringContaining("top") });
    expect(parseListQuery(query({ createdTo: "yesterday" }))).toEqual({ error: "createdTo must be an ISO date-time" });
    expect(parseListQuery(query({ runtimeStatus: "Running,Sleeping" }))).toMatchObject({ error: expect.stringContaining("Sleeping") });
  });

  test("gathers only (not batches nor other orchestrations); outcome only when completed", () => {
    const base = { runtimeStatus: "Completed", createdTime: "t0", lastUpdatedTime: "t1" };
    expect(isGather({ ...base, name: "scatterGatherOrchestrator", instanceId: "g1" })).toBe(true);
    expect(isGather({ ...base, name: "scatterGatherOrchestrator", instanceId: "g1~batch-0" })).toBe(false);
    expect(isGather({ ...base, name: "scatterGatherBatch", instanceId: "g1~batch-0" })).toBe(false);
    expect(isGather({ ...base, name: "scatterGatherOrchestrator", instanceId: `${batchIdPrefix("x".repeat(100), "r")}7` })).toBe(false);
    const output = { outcome: "complete", closedBy: "all-responded", counts: { total: 1 }, responses: [{}] };
    const counts = { total: 1, succeeded: 1, failed: 0, pending: 0, deadline: null };
    expect(summarize({ ...base, instanceId: "g1", output, customStatus: { phase: "aggregating", ...counts } })).toEqual({
      id: "g1",
      runtimeStatus: "Completed",
      createdTime: "t0",
      lastUpdatedTime: "t1",
      progress: { phase: "done", ...counts },
      outcome: "complete",
      closedBy: "all-responded",
      counts: { total: 1 },
    });
    expect(summarize({ ...base, runtimeStatus: "Failed", instanceId: "g2", output: "boom" })).toMatchObject({
      outcome: null,
      closedBy: null,
      counts: null,
      progress: null,
    });
    // As GET …/{id} shows them: running as it is; terminated done, nobody pending (the rest abandoned).
    const gathering = { phase: "gathering", total: 3, succeeded: 1, failed: 0, pending: 2, deadline: null, awaitingReply: 1 };
    expect(summarize({ ...base, runtimeStatus: "Running", instanceId: "g3", customStatus: gathering }).progress).toEqual(gathering);
    expect(summarize({ ...base, runtimeStatus: "Terminated", instanceId: "g4", customStatus: gathering }).progress).toEqual({
      phase: "done",
      total: 3,
      succeeded: 1,
      failed: 0,
      pending: 0,
      deadline: null,
    });
  });

  describe("listGathers: one backend page through the client's own endpoint", () => {
    // The public webhook URL, with the system key: the list must never call it.
    const client = {
      createHttpManagementPayload: (id: string) => ({
        statusQueryGetUri: `https://app.example.net/runtime/webhooks/durabletask/instances/${id}?code=SYSTEMKEY`,
      }),
    } as unknown as DurableClient;
    const page = (body: unknown[], token?: string) => {
      const calls: { url: string; headers: Record<string, string> }[] = [];
      const fetchImpl = (async (url: string, init: { headers: Record<string, string> }) => {
        calls.push({ url, headers: init.headers });
        return new Response(JSON.stringify(body), { status: 200, headers: token ? { "x-ms-continuation-token": token } : {} });
      }) as unknown as typeof fetch;
      return { calls, fetchImpl };
    };

    test("asks the rpcBaseUrl listener (no key, no public origin) with the query and the caller's token", async () => {
      const { calls, fetchImpl } = page([]);
      await listGathers(
        client,
        "http://127.0.0.1:17071/durabletask/",
        { top: 5, continuationToken: "abc", runtimeStatus: ["Running"] },
        fetchImpl,
      );
      expect(calls).toHaveLength(1);
      const url = new URL(calls[0].url);
      expect(url.origin + url.pathname).toBe("http://127.0.0.1:17071/durabletask/instances/");
      expect(Object.fromEntries(url.searchParams)).toEqual({ top: "5", showInput: "false", runtimeStatus: "Running" });
      expect(calls[0].headers).toEqual({ "x-ms-continuation-token": "abc" });
    });

    test("an empty page that carries a token keeps it (listing goes on)", async () => {
      const { fetchImpl } = page([], "next-page");
      expect(await listGathers(client, "http://127.0.0.1:17071/durabletask/", { top: 5 }, fetchImpl)).toEqual({
        items: [],
        continuationToken: "next-page",
      });
      const last = page([]);
      expect((await listGathers(client, "http://127.0.0.1:17071/durabletask/", { top: 5 }, last.fetchImpl)).continuationToken).toBeNull();
    });

    test("a host without rpcBaseUrl: the management URL template, as the durable client itself falls back", async () => {
      const { calls, fetchImpl } = page([]);
      await listGathers(client, undefined, { top: 5 }, fetchImpl);
      expect(calls[0].url).toBe("https://app.example.net/runtime/webhooks/durabletask/instances?code=SYSTEMKEY&top=5&showInput=false");
    });

    test("a continuation token the backend cannot read is the caller's 400; another backend failure a 502", async () => {
      const failing = (async () => new Response("Invalid continuation token.", { status: 500 })) as unknown as typeof fetch;
      await expect(
        listGathers(client, "http://127.0.0.1:1/durabletask/", { top: 5, continuationToken: "garbage" }, failing),
      ).rejects.toMatchObject({
        name: "ListError",
        status: 400,
      });
      await expect(listGathers(client, "http://127.0.0.1:1/durabletask/", { top: 5 }, failing)).rejects.toMatchObject({ status: 502 });
    });
  });
});
