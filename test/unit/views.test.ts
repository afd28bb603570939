/** The list route's query parsing and summaries (src/views/gatherList.ts), without a host. */
import { isGather, parseListQuery, summarize } from "../../src/views/gatherList";

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
    const output = { outcome: "complete", closedBy: "all-responded", counts: { total: 1 }, responses: [{}] };
    expect(summarize({ ...base, instanceId: "g1", output, customStatus: { phase: "done" } })).toEqual({
      id: "g1",
      runtimeStatus: "Completed",
      createdTime: "t0",
      lastUpdatedTime: "t1",
      progress: { phase: "done" },
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
  });
});
