/**
 * Gathers at the declared limits, against a host that refuses any durable payload over 1 MiB (the
 * local host enforces the Durable Task Scheduler's limit): big answers in every aggregation, paging
 * through responsesUri, a 1 MiB request to 10,000 recipients, DELETE of everything a gather stored.
 */
import { pollUntil, recipientServer, request, runGather, startOk, uniqueId, useTarget, type AnyJson } from "./harness";

const target = useTarget();
jest.setTimeout(120_000);

/** A 60 KB answer (under MAX_RESPONSE_BYTES) whose price and label depend on the recipient. */
function bigAnswer(n: number): AnyJson {
  return { price: 100 - n, label: n % 3 === 0 ? "fizz" : "other", pad: "x".repeat(60_000) };
}

async function allPages(firstUri: string): Promise<AnyJson[]> {
  const items: AnyJson[] = [];
  let uri: string | null = firstUri;
  while (uri) {
    const page: AnyJson = (await request(uri.replace(/^https?:\/\/[^/]+/, target.baseUrl))).body;
    items.push(...page.items);
    uri = page.nextUri;
  }
  return items;
}

describe("30 recipients answering 60 KB each (1.8 MB in all)", () => {
  const kinds = [
    { kind: "collect" },
    { kind: "best", field: "price", order: "min" },
    { kind: "summary", field: "price" },
    { kind: "vote", field: "label" },
  ];
  for (const aggregate of kinds) {
    test(`${aggregate.kind}: completes within the 1 MiB payload limit; responses are read page by page`, async () => {
      const srv = await recipientServer((call) => ({ json: bigAnswer(Number(String(call.body.recipientId).slice(1))) }));
      const recipients = Array.from({ length: 30 }, (_, i) => ({ id: `r${i}`, url: `${srv.url}/quote` }));
      const status = await runGather(target, { request: { rfq: 1 }, recipients, aggregate }, 60_000);
      expect(status.runtimeStatus).toBe("Completed");
      const result = status.result;
      expect(result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 30, succeeded: 30 } });
      expect(result.responses).toBeUndefined(); // 1.8 MB does not fit RESULT_INLINE_BYTES
      expect(JSON.stringify(result).length).toBeLessThan(100_000);
      switch (aggregate.kind) {
        case "collect":
          expect(result.aggregate).toEqual({ kind: "collect", count: 30 });
          break;
        case "best":
          expect(result.aggregate).toMatchObject({ kind: "best", recipientId: "r29", value: { price: 71 } });
          break;
        case "summary":
          expect(result.aggregate).toMatchObject({ kind: "summary", count: 30, min: 71, max: 100, sum: (71 + 100) * 15 });
          break;
        case "vote":
          expect(result.aggregate).toEqual({ kind: "vote", field: "label", value: "other", count: 20 });
          break;
      }
      const items = await allPages(`${result.responsesUri}?limit=7`);
      expect(items.map((i) => i.recipientId)).toEqual(recipients.map((r) => r.id));
      expect(items.every((i) => i.status === "succeeded" && i.value.pad.length === 60_000)).toBe(true);
    });
  }

  test("agreement quorum over 60 KB answers, with retries under a deadline: equal values found by digest, the winner read back", async () => {
    // r0..r9 fail their first attempt (503) and answer on the retry; a third of the others answer the
    // same 60 KB value. The quorum of 8 equal answers needs the retried ones, all before the deadline.
    const srv = await recipientServer((call) => {
      const n = Number(String(call.body.recipientId).slice(1));
      const first = srv.calls.filter((c) => c.body.recipientId === call.body.recipientId).length === 1;
      if (n < 10 && first) return { status: 503, json: { busy: true } };
      return { json: n % 3 === 0 ? { label: "same", pad: "y".repeat(60_000) } : bigAnswer(n) };
    });
    const recipients = Array.from({ length: 24 }, (_, i) => ({ id: `r${i}`, url: `${srv.url}/quote` }));
    const status = await runGather(
      target,
      {
        request: { rfq: 2 },
        recipients,
        completion: { mode: "quorum", quorum: 8, agree: true, timeoutMs: 30_000 },
        aggregate: { kind: "vote" },
        retry: { maxAttempts: 2, firstRetryIntervalMs: 200 },
      },
      60_000,
    );
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
    expect(status.result.aggregate).toEqual({ kind: "vote", value: { label: "same", pad: "y".repeat(60_000) }, count: 8 });
    expect(JSON.stringify(status.result).length).toBeLessThan(200_000);
    const retried = (await allPages(`${status.result.responsesUri}?status=succeeded`)).filter((i) => Number(i.recipientId.slice(1)) < 10);
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.every((i) => i.attempts === 2)).toBe(true);
  });

  test("paging: offset, limit, status filter, nextUri; 400 for a bad query; 404 for an unknown id", async () => {
    const recipients = Array.from({ length: 12 }, (_, i) => ({
      id: `p${i}`,
      simulate: { value: { n: i }, failureRate: i % 4 === 0 ? 1 : 0 },
    }));
    const { result } = await runGather(target, { request: 1, recipients });
    const base = result.responsesUri.replace(/^https?:\/\/[^/]+/, target.baseUrl);
    const page = (await request(`${base}?offset=2&limit=3`)).body;
    expect(page).toMatchObject({ offset: 2, limit: 3, total: 12 });
    expect(page.items.map((i: AnyJson) => i.recipientId)).toEqual(["p2", "p3", "p4"]);
    expect(page.items[2]).toMatchObject({ recipientId: "p4", status: "failed", error: "simulated failure (failureRate 1)" });
    expect(page.items[0]).toMatchObject({ recipientId: "p2", status: "succeeded", value: { n: 2 }, attempts: 1 });
    expect(new URL(page.nextUri).search).toBe("?offset=5&limit=3");
    const failed = (await request(`${base}?status=failed`)).body;
    expect(failed.items.map((i: AnyJson) => i.recipientId)).toEqual(["p0", "p4", "p8"]);
    expect(failed.nextUri).toBeNull();
    expect((await request(`${base}?limit=0`)).status).toBe(400);
    expect((await request(`${base}?status=maybe`)).status).toBe(400);
    expect((await request(`${target.baseUrl}/api/scatter-gather/${uniqueId("nobody")}/responses`)).status).toBe(404);
  });

  test("while the gather runs: the answers so far, the others pending", async () => {
    const recipients = [
      { id: "quick", simulate: { value: "q" } },
      { id: "slow", simulate: { latencyMs: 30_000, value: "s" } },
    ];
    const { id, body } = await startOk(target, { request: 1, recipients });
    const base = `${target.baseUrl}/api/scatter-gather/${id}/responses`;
    await pollUntil(target, id, (s) => s.progress?.succeeded === 1);
    const page = (await request(base)).body;
    expect(page.items).toEqual([
      { recipientId: "quick", status: "succeeded", value: "q", attempts: 1, durationMs: expect.any(Number) },
      { recipientId: "slow", status: "pending" },
    ]);
    await request(body.terminatePostUri.replace("{text}", "test").replace(/^https?:\/\/[^/]+/, target.baseUrl), { method: "POST" });
  });
});

describe("a 1 MiB request to 10,000 recipients", () => {
  test("completes: the request is stored once, every durable payload stays under 1 MiB", async () => {
    const recipients = Array.from({ length: 10_000 }, (_, i) => ({ id: `n${i}`, simulate: { value: i } }));
    const skeleton = JSON.stringify({ request: "", recipients });
    const request = "r".repeat(1_048_576 - Buffer.byteLength(skeleton) - 10);
    const status = await runGather(target, { request, recipients }, 110_000);
    expect(status.runtimeStatus).toBe("Completed");
    expect(status.result.counts).toMatchObject({ total: 10_000, succeeded: 10_000 });
    expect(status.result.responses).toBeUndefined();
  });
});

describe("DELETE", () => {
  test("removes the gather and its stored payloads: the responses route then answers 404", async () => {
    const { id, result } = await runGather(target, {
      request: { big: "y".repeat(50_000) },
      recipients: [{ id: "a", simulate: { value: 1 } }],
    });
    const base = result.responsesUri.replace(/^https?:\/\/[^/]+/, target.baseUrl);
    expect((await request(base)).status).toBe(200);
    expect((await request(`${target.baseUrl}/api/scatter-gather/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await request(base)).status).toBe(404);
    expect((await request(`${target.baseUrl}/api/scatter-gather/${id}`)).status).toBe(404);
  });
});
