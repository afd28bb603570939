/**
 * The auction variant: notify URLs receive the request once; answers arrive through
 * POST /api/scatter-gather/{id}/responses and through sendEventPostUri (event `response`).
 */
import {
  pollUntil,
  pollUntilDone,
  postAnonymous,
  postJson,
  gatherUrl,
  recipientServer,
  request,
  sleep,
  startOk,
  uniqueId,
  useTarget,
  msBetween,
} from "./harness";

const target = useTarget();
jest.setTimeout(30_000);

describe("auction", () => {
  test("notify once, answers by both routes, first answer wins, closes at `expected` as complete, late answer 410", async () => {
    const notify = await recipientServer(() => ({ status: 204, text: "" }));
    const id = uniqueId("auction");
    const request = { rfq: "steel", tons: 12 };
    const started = await startOk(target, {
      id,
      request,
      auction: { notify: [`${notify.url}/rfq`], expected: 3 },
      completion: { timeoutMs: 60_000 },
      aggregate: { kind: "best", field: "bid.price", order: "min" },
    });
    expect(started.id).toBe(id);

    await notify.waitForCalls(1);
    const call = notify.calls[0];
    expect(call.method).toBe("POST");
    expect(call.url).toBe("/rfq");
    expect(Object.keys(call.body).sort()).toEqual(["request", "requestId", "respondUrl"]);
    expect(call.body.requestId).toBe(id);
    expect(call.body.request).toEqual(request);
    // The bidders' route with the run's token: no function key is handed out.
    const respondUrl = new URL(call.body.respondUrl);
    expect(respondUrl.pathname).toBe(`/api/scatter-gather/${id}/answers`);
    expect([...respondUrl.searchParams.keys()]).toEqual(["token"]);
    expect(respondUrl.searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // 1st answer through the respondUrl the responders were given, with no key (as a bidder has none).
    const a1 = await postAnonymous(call.body.respondUrl, { responder: "r1", value: { bid: { price: 90 } } });
    expect(a1.status).toBe(202);
    await pollUntil(target, id, (b) => b.progress?.succeeded === 1);

    // 2nd through the Durable sendEventPostUri, event name `response`.
    const eventUrl = started.body.sendEventPostUri.replace("{eventName}", "response");
    const a2 = await postJson(eventUrl, { responder: "r2", value: { bid: { price: 70 } } });
    expect(a2.status).toBe(202);
    const two = await pollUntil(target, id, (b) => b.progress?.succeeded === 2);
    expect(two.runtimeStatus).toBe("Running");
    expect(two.progress).toMatchObject({ phase: "gathering", total: 3, succeeded: 2, failed: 0, pending: 1 });

    // r1 again: accepted over HTTP, but the first answer stands.
    const again = await postJson(gatherUrl(target, id) + "/responses", { responder: "r1", value: { bid: { price: 1 } } });
    expect(again.status).toBe(202);
    await sleep(300);
    const still = await pollUntil(target, id, () => true);
    expect(still.runtimeStatus).toBe("Running");
    expect(still.progress).toMatchObject({ succeeded: 2, pending: 1 });

    const a3 = await postJson(gatherUrl(target, id) + "/responses", { responder: "r3", value: { bid: { price: 80 } } });
    expect(a3.status).toBe(202);
    const done = await pollUntilDone(target, id);
    expect(done.runtimeStatus).toBe("Completed");
    const r = done.result;
    expect(r).toMatchObject({ id, outcome: "complete", closedBy: "all-responded" });
    expect(r.counts).toEqual({ total: 3, succeeded: 3, failed: 0, timedOut: 0, abandoned: 0 });
    expect(r.responses.map((x: { recipientId: string; status: string; value: unknown }) => [x.recipientId, x.status, x.value])).toEqual([
      ["r1", "succeeded", { bid: { price: 90 } }],
      ["r2", "succeeded", { bid: { price: 70 } }],
      ["r3", "succeeded", { bid: { price: 80 } }],
    ]);
    expect(r.aggregate).toMatchObject({ kind: "best", recipientId: "r2", value: { bid: { price: 70 } } });
    expect(msBetween(r.startedAt, r.closedAt)).toBeLessThan(60_000);

    const late = await postJson(gatherUrl(target, id) + "/responses", { responder: "r4", value: { bid: { price: 10 } } });
    expect(late.status).toBe(410);
    expect(late.body.error.code).toEqual(expect.any(String));
    expect(late.body.error.message).toEqual(expect.any(String));

    await sleep(200);
    expect(notify.count).toBe(1);
  });

  test("closes at the deadline with what it has: partial", async () => {
    const id = uniqueId("auction-deadline");
    await startOk(target, { id, request: "any", auction: {}, completion: { timeoutMs: 1200 } });
    expect((await postJson(gatherUrl(target, id) + "/responses", { responder: "only", value: 5 })).status).toBe(202);
    const done = await pollUntilDone(target, id, 10_000);
    expect(done.result).toMatchObject({ outcome: "partial", closedBy: "deadline" });
    expect(done.result.counts).toMatchObject({ succeeded: 1 });
    expect(done.result.responses).toEqual([expect.objectContaining({ recipientId: "only", status: "succeeded", value: 5 })]);
    const closedAfter = msBetween(done.result.startedAt, done.result.closedAt);
    expect(closedAfter).toBeGreaterThanOrEqual(1200);
    expect(closedAfter).toBeLessThan(3200); // at the deadline, give or take a loaded machine's episode
  });

  test("a bad answer body is 400 with details; nothing is raised", async () => {
    const id = uniqueId("auction-bad");
    await startOk(target, { id, request: 1, auction: { expected: 1 }, completion: { timeoutMs: 1500 } });
    const bad = await postJson(gatherUrl(target, id) + "/responses", { value: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "responder" })]));
    const done = await pollUntilDone(target, id, 10_000);
    expect(done.result).toMatchObject({ outcome: "failed", closedBy: "deadline" });
    expect(done.result.counts.succeeded).toBe(0);
  });

  test("answers raised straight at the instance are held to MAX_RESPONSE_BYTES and stored like the others", async () => {
    const id = uniqueId("auction-raw");
    const started = await startOk(target, { id, request: 1, auction: { expected: 2 }, completion: { timeoutMs: 20_000 } });
    const eventUrl = String(started.body.sendEventPostUri)
      .replace("{eventName}", "response")
      .replace(/^https?:\/\/[^/]+/, target.baseUrl);
    const raise = (body: unknown) =>
      request(eventUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    // 100 KB: over MAX_RESPONSE_BYTES (64 KiB), under the backend's 1 MiB: the host takes the event, the gather ignores it.
    expect((await raise({ responder: "huge", value: "x".repeat(100_000) })).status).toBe(202);
    expect((await raise({ responder: "deep", value: JSON.parse("[".repeat(80) + "]".repeat(80)) })).status).toBe(202);
    expect((await raise({ responder: "raw", value: { bid: 7 } })).status).toBe(202);
    expect((await postJson(gatherUrl(target, id) + "/responses", { responder: "posted", value: { bid: 9 } })).status).toBe(202);
    const done = await pollUntilDone(target, id, 15_000);
    expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { succeeded: 2 } });
    expect(done.result.responses.map((x: { recipientId: string; value: unknown }) => [x.recipientId, x.value])).toEqual([
      ["raw", { bid: 7 }],
      ["posted", { bid: 9 }],
    ]);
    const page = (await request(String(done.result.responsesUri).replace(/^https?:\/\/[^/]+/, target.baseUrl))).body;
    expect(page.items.map((x: { recipientId: string }) => x.recipientId)).toEqual(["raw", "posted"]);
  });
});
