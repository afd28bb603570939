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
    expect(parseListQuery(query({ createdTo: "yesterday" }))).toEqual({ error: "createdTo must be an ISO date-time", path: "createdTo" });
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
      // Ended without its result: whoever was pending is abandoned, so the figures add up to the total.
      abandoned: 2,
      pending: 0,
      deadline: null,
    });
  });

  describe("listGathers: newest first, through the client's own endpoint", () => {
    // The public webhook URL, with the system key: the list must never call it unless the host gives no rpcBaseUrl.
    const client = {
      createHttpManagementPayload: (id: string) => ({
        statusQueryGetUri: `https://app.example.net/runtime/webhooks/durabletask/instances/${id}?code=SYSTEMKEY`,
      }),
    } as unknown as DurableClient;
    const rpc = "http://127.0.0.1:17071/durabletask/";
    const now = Date.parse("2026-12-07T12:00:00Z");
    const ago = (ms: number) => new Date(now - ms).toISOString().replace(/\.\d{3}Z$/, "Z");
    const min = 60_000;
    const day = 86_400_000;

    /** A Durable instance query over `instances`: created-time range (inclusive, ms), statuses, pages of `top` (oldest first). */
    function backend(instances: { instanceId: string; createdTime: string; name?: string; runtimeStatus?: string }[]) {
      const calls: URL[] = [];
      const fetchImpl = (async (href: string, init: { headers: Record<string, string> }) => {
        const url = new URL(href);
        calls.push(url);
        const from = url.searchParams.get("createdTimeFrom");
        const to = url.searchParams.get("createdTimeTo");
        const statuses = url.searchParams.get("runtimeStatus")?.split(",");
        const matching = instances
          .map((i) => ({ name: "scatterGatherOrchestrator", runtimeStatus: "Completed", lastUpdatedTime: i.createdTime, ...i }))
          .filter((i) => (!from || Date.parse(i.createdTime) >= Date.parse(from)) && (!to || Date.parse(i.createdTime) <= Date.parse(to)))
          .filter((i) => !statuses || statuses.includes(i.runtimeStatus))
          .sort((a, b) => Date.parse(a.createdTime) - Date.parse(b.createdTime));
        const top = Number(url.searchParams.get("top"));
        const offset = Number(init.headers["x-ms-continuation-token"] ?? 0);
        const next = offset + top < matching.length ? String(offset + top) : undefined;
        return new Response(JSON.stringify(matching.slice(offset, offset + top)), {
          status: 200,
          headers: next ? { "x-ms-continuation-token": next } : {},
        });
      }) as unknown as typeof fetch;
      return { calls, fetchImpl };
    }
    const ids = (page: { items: { id: string }[] }) => page.items.map((i) => i.id);

    test("the newest gathers first across windows further and further back; batches and other orchestrations left out", async () => {
      const { calls, fetchImpl } = backend([
        { instanceId: "d5", createdTime: ago(5 * day) },
        { instanceId: "h3", createdTime: ago(180 * min) },
        { instanceId: "h3~batch-0", createdTime: ago(180 * min) },
        { instanceId: "m30", createdTime: ago(30 * min) },
        { instanceId: "other", createdTime: ago(2 * min), name: "someOtherOrchestrator" },
        { instanceId: "m1", createdTime: ago(1 * min) },
      ]);
      const first = await listGathers(client, rpc, { top: 2 }, fetchImpl, now);
      expect(ids(first)).toEqual(["m1", "m30"]);
      // 10 minutes back (m1 only), then 40: two gathers, so nothing older is read.
      expect(calls.map((u) => [u.searchParams.get("createdTimeFrom"), u.searchParams.get("createdTimeTo")])).toEqual([
        [new Date(now - 10 * min).toISOString(), null],
        [new Date(now - 50 * min).toISOString(), new Date(now - 10 * min + 999).toISOString()],
      ]);
      const url = calls[0];
      expect(url.origin + url.pathname).toBe("http://127.0.0.1:17071/durabletask/instances/");
      expect(url.searchParams.get("top")).toBe("1000");
      expect(url.searchParams.get("showInput")).toBe("false");
      expect(first.continuationToken).toMatch(/^g1\./);
      const second = await listGathers(client, rpc, { top: 2, continuationToken: first.continuationToken! }, fetchImpl, now);
      expect(ids(second)).toEqual(["h3", "d5"]);
      const third = await listGathers(client, rpc, { top: 2, continuationToken: second.continuationToken! }, fetchImpl, now);
      expect(third).toEqual({ items: [], continuationToken: null });
    });

    test("a window's lowest second is read whole: a gather created in it before the window's edge is not skipped", async () => {
      // The backend filters by the exact creation time and shows it in whole seconds (as the hosts do). With the
      // window's edge inside a second, z (created earlier in that second than the edge) was never listed.
      const at = Date.parse("2026-12-07T12:00:00.500Z");
      const exact = [
        { instanceId: "w", created: at - 5 * min },
        { instanceId: "a", created: Date.parse("2026-12-07T11:50:00.700Z") },
        { instanceId: "z", created: Date.parse("2026-12-07T11:50:00.200Z") },
      ];
      const fetchImpl = (async (href: string, init: { headers: Record<string, string> }) => {
        const url = new URL(href);
        const from = url.searchParams.get("createdTimeFrom");
        const to = url.searchParams.get("createdTimeTo");
        const matching = exact
          .filter((i) => (!from || i.created >= Date.parse(from)) && (!to || i.created <= Date.parse(to)))
          .sort((x, y) => x.created - y.created)
          .map((i) => ({
            name: "scatterGatherOrchestrator",
            instanceId: i.instanceId,
            runtimeStatus: "Completed",
            createdTime: new Date(Math.floor(i.created / 1000) * 1000).toISOString().replace(".000Z", "Z"),
          }));
        expect(init.headers["x-ms-continuation-token"]).toBeUndefined();
        return new Response(JSON.stringify(matching), { status: 200 });
      }) as unknown as typeof fetch;
      const seen: string[] = [];
      let token: string | undefined;
      for (let pages = 0; pages < 5; pages++) {
        const page = await listGathers(client, rpc, { top: 2, ...(token ? { continuationToken: token } : {}) }, fetchImpl, at);
        seen.push(...ids(page));
        if (!page.continuationToken) break;
        token = page.continuationToken;
      }
      expect(seen).toEqual(["w", "z", "a"]);
    });

    test("gathers created in the same second: by id, descending, and a page may end and go on inside that second", async () => {
      const { fetchImpl } = backend(["a", "b", "c"].map((instanceId) => ({ instanceId, createdTime: ago(5 * min) })));
      const first = await listGathers(client, rpc, { top: 2 }, fetchImpl, now);
      expect(ids(first)).toEqual(["c", "b"]);
      const second = await listGathers(client, rpc, { top: 2, continuationToken: first.continuationToken! }, fetchImpl, now);
      expect(second.items.map((i) => i.id)).toEqual(["a"]);
      expect(second.continuationToken).toBeNull();
    });

    test("createdFrom bounds the search, createdTo and runtimeStatus go to the backend; pages of a window are all read", async () => {
      const many = Array.from({ length: 1500 }, (_, i) => ({ instanceId: `x${String(i).padStart(4, "0")}`, createdTime: ago(20 * min) }));
      const { calls, fetchImpl } = backend([...many, { instanceId: "old", createdTime: ago(2 * day) }]);
      const page = await listGathers(
        client,
        rpc,
        { top: 3, createdFrom: new Date(now - day), createdTo: new Date(now - 15 * min), runtimeStatus: ["Completed"] },
        fetchImpl,
        now,
      );
      expect(ids(page)).toEqual(["x1499", "x1498", "x1497"]);
      expect(calls.every((u) => u.searchParams.get("runtimeStatus") === "Completed")).toBe(true);
      expect(calls[0].searchParams.get("createdTimeTo")).toBe(new Date(now - 15 * min).toISOString());
      // The window holding the 1,500 is read whole (two pages), never past createdFrom.
      expect(calls.filter((u) => u.searchParams.get("createdTimeFrom") === new Date(now - 25 * min).toISOString())).toHaveLength(2);
      expect(calls.every((u) => Date.parse(u.searchParams.get("createdTimeFrom")!) >= now - day)).toBe(true);
    });

    test("with few gathers, the search ends with one query for everything older", async () => {
      const { calls, fetchImpl } = backend([{ instanceId: "ancient", createdTime: ago(800 * day) }]);
      expect(ids(await listGathers(client, rpc, { top: 20 }, fetchImpl, now))).toEqual(["ancient"]);
      expect(calls[calls.length - 1].searchParams.get("createdTimeFrom")).toBeNull();
      expect(calls.length).toBeLessThan(15);
    });

    test("a host without rpcBaseUrl: the management URL template, as the durable client itself falls back", async () => {
      const { calls, fetchImpl } = backend([]);
      await listGathers(client, undefined, { top: 5 }, fetchImpl, now);
      expect(calls[0].href).toMatch(/^https:\/\/app\.example\.net\/runtime\/webhooks\/durabletask\/instances\?code=SYSTEMKEY&top=1000&/);
    });

    test("a continuation token it did not hand out is the caller's 400; a backend failure a 502", async () => {
      const { fetchImpl } = backend([]);
      for (const token of ["garbage", "g1.", "g1.e30", Buffer.from("{}").toString("base64")])
        await expect(listGathers(client, rpc, { top: 5, continuationToken: token }, fetchImpl, now)).rejects.toMatchObject({
          name: "ListError",
          status: 400,
        });
      const failing = (async () => new Response("down", { status: 500 })) as unknown as typeof fetch;
      await expect(listGathers(client, rpc, { top: 5 }, failing, now)).rejects.toMatchObject({ status: 502 });
    });
  });
});
