/**
 * Callback recipients (`reply: "callback"`) over HTTP against the local host: the delivery carries respondUrl,
 * a 2xx only acknowledges, the answer comes later through respondUrl (value or error), with 401 for a forged or
 * another recipient's token, 409 for a second answer, 410 after the close; one that never answers times out.
 * Combined with batches, quorum with agreement, vote, retries of the delivery and a concurrency window.
 */
import {
  closeAllServers,
  getGather,
  pollUntil,
  pollUntilDone,
  postAnonymous,
  recipientServer,
  request,
  sleep,
  startGather,
  startOk,
  uniqueId,
  useTarget,
  type AnyJson,
  type ReceivedCall,
} from "./harness";

jest.setTimeout(60_000);
// Batches of 3: a gather of more recipients delivers from its batches, and replies go to the batch that waits.
const target = useTarget({ FANOUT_BATCH_SIZE: "3" });
afterEach(() => closeAllServers());

/** A recipient server that acknowledges every delivery (202) and keeps them. */
async function callbackServer() {
  const server = await recipientServer(() => ({ status: 202, text: "" }));
  const deliveryOf = (recipientId: string): ReceivedCall => {
    const call = server.calls.find((c) => c.body?.recipientId === recipientId);
    if (!call) throw new Error(`no delivery to ${recipientId}`);
    return call;
  };
  return { server, deliveryOf };
}

test("answers come later through respondUrl: value, error, forged token, second answer, late answer, silence", async () => {
  const { server, deliveryOf } = await callbackServer();
  const url = `${server.url}/work`;
  const id = uniqueId("callback");
  await startOk(target, {
    id,
    request: { question: "price?" },
    recipients: [
      { id: "a", url, reply: "callback", input: { item: 1 } },
      { id: "b", url, reply: "callback" },
      { id: "silent", url, reply: "callback" },
      { id: "sync", simulate: { value: 7 } },
    ],
    // Long enough for the steps below on a loaded machine (about 2 s idle): "silent" ends timedOut, the others settle.
    completion: { mode: "all", timeoutMs: 8_000 },
  });
  await server.waitForCalls(3);
  const a = deliveryOf("a").body as AnyJson;
  expect(a).toMatchObject({ requestId: id, recipientId: "a", request: { question: "price?" }, input: { item: 1 } });
  expect(a.respondUrl).toMatch(new RegExp(`/api/scatter-gather/${id}/answers\\?token=0\\.`));
  const b = deliveryOf("b").body as AnyJson;
  expect(b.input).toBeUndefined();

  // While they wait: pending, and counted as waiting for their reply.
  const waiting = await pollUntil(target, id, (s) => s.progress?.awaitingReply === 3, 10_000);
  expect(waiting.progress).toMatchObject({ pending: 3, awaitingReply: 3 });

  // Another recipient's token, a changed token, none at all: 401, checked before anything else.
  const other = new URL(b.respondUrl as string).searchParams.get("token")!;
  const forged = new URL(a.respondUrl as string);
  forged.searchParams.set("token", `0.${other.split(".")[1]}`);
  expect((await postAnonymous(forged.href, { value: 1 })).status).toBe(401);
  forged.searchParams.set("token", `${other.split(".")[0]}.${"A".repeat(43)}`);
  expect((await postAnonymous(forged.href, { value: 1 })).status).toBe(401);
  // A bad body: 400, and nothing taken.
  const bad = await postAnonymous(a.respondUrl as string, { value: 1, error: "both" });
  expect(bad.status).toBe(400);

  await sleep(1_000);
  const first = await postAnonymous(a.respondUrl as string, { value: { price: 42 } });
  expect(first.status).toBe(202);
  const second = await postAnonymous(a.respondUrl as string, { value: { price: 1 } });
  expect(second.status).toBe(409);
  expect((await postAnonymous(b.respondUrl as string, { error: "out of stock" })).status).toBe(202);

  const done = await pollUntilDone(target, id, 20_000);
  expect(done.result.outcome).toBe("partial");
  expect(done.result.closedBy).toBe("deadline");
  expect(done.result.counts).toMatchObject({ total: 4, succeeded: 2, failed: 1, timedOut: 1 });
  const byId = Object.fromEntries((done.result.responses as AnyJson[]).map((r) => [r.recipientId, r]));
  expect(byId.a).toMatchObject({ status: "succeeded", value: { price: 42 }, attempts: 1 });
  expect(byId.a.durationMs).toBeGreaterThanOrEqual(900);
  expect(byId.b).toMatchObject({ status: "failed", error: "out of stock" });
  expect(byId.silent).toMatchObject({ status: "timedOut" });
  expect(byId.sync).toMatchObject({ status: "succeeded", value: 7 });
  // After the close: 410 for the right token, 401 for a wrong one.
  expect((await postAnonymous(deliveryOf("silent").body.respondUrl as string, { value: 1 })).status).toBe(410);
  expect((await postAnonymous(forged.href, { value: 1 })).status).toBe(401);
  // The token never shows in status JSON or history.
  const history = await request(
    `${target.baseUrl}/runtime/webhooks/durabletask/instances/${id}?showHistory=true&showHistoryOutput=true&showInput=true`,
  );
  expect(history.text).not.toContain(other.split(".")[1]);
  // Nor in the host's log (every request line, invocation and warning of this gather).
  const macs = [a.respondUrl, b.respondUrl].map((url) => new URL(url as string).searchParams.get("token")!.split(".")[1]);
  if (target.host) {
    expect(target.host.output()).toContain(id); // the log is read, and it speaks of this gather
    for (const mac of macs) expect(target.host.output()).not.toContain(mac);
  }
});

test("a callback answered at once, before its delivery's 2xx, counts; the responses route lists callback answers", async () => {
  let respondUrl = "";
  const server = await recipientServer(async (call) => {
    respondUrl = call.body.respondUrl;
    // Answer first, then acknowledge.
    const answered = await postAnonymous(respondUrl, { value: { fast: true } });
    return { status: answered.status === 202 ? 200 : 500, text: "" };
  });
  const { id } = await startOk(target, {
    request: 1,
    recipients: [{ id: "fast", url: `${server.url}/x`, reply: "callback" }],
    completion: { mode: "all", timeoutMs: 10_000 },
  });
  const done = await pollUntilDone(target, id, 15_000);
  expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
  expect(done.result.responses[0]).toMatchObject({ recipientId: "fast", status: "succeeded", value: { fast: true } });
  const responses = await request(`${target.baseUrl}/api/scatter-gather/${id}/responses`);
  expect(responses.body.items[0]).toMatchObject({ recipientId: "fast", value: { fast: true } });
});

test('a callback recipient needs completion.timeoutMs, and reply takes only "callback"', async () => {
  const missing = await startGather(target, { request: 1, recipients: [{ id: "a", url: "http://127.0.0.1:9/x", reply: "callback" }] });
  expect(missing.status).toBe(400);
  expect(missing.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "completion.timeoutMs" })]));
  const wrong = await startGather(target, {
    request: 1,
    recipients: [{ id: "a", url: "http://127.0.0.1:9/x", reply: "later" }],
    completion: { timeoutMs: 1000 },
  });
  expect(wrong.status).toBe(400);
  expect(wrong.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "recipients[0].reply" })]));
  const simulated = await startGather(target, {
    request: 1,
    recipients: [{ id: "a", simulate: { value: 1 }, reply: "callback" }],
    completion: { timeoutMs: 1000 },
  });
  expect(simulated.status).toBe(400);
  expect(simulated.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "recipients[0].reply" })]));
});

test("callbacks under quorum with agreement, with retries of the delivery and a concurrency window, across batches", async () => {
  // Each delivery fails once (503), then is acknowledged; the test answers each 300 ms later.
  const seen = new Map<string, number>();
  let inFlight = 0;
  let most = 0;
  const answers: Promise<unknown>[] = [];
  const server = await recipientServer((call) => {
    const n = (seen.get(call.body.recipientId) ?? 0) + 1;
    seen.set(call.body.recipientId, n);
    if (n === 1) return { status: 503, text: "" };
    inFlight++;
    most = Math.max(most, inFlight);
    answers.push(
      sleep(300).then(async () => {
        inFlight--;
        return postAnonymous(call.body.respondUrl, { value: { verdict: call.body.recipientId === "r0" ? "no" : "yes" } });
      }),
    );
    return { status: 202, text: "" };
  });
  const recipients = Array.from({ length: 6 }, (_, i) => ({ id: `r${i}`, url: `${server.url}/v`, reply: "callback" }));
  const { id } = await startOk(target, {
    request: 1,
    recipients,
    completion: { mode: "quorum", quorum: 4, agree: true, timeoutMs: 20_000 },
    retry: { maxAttempts: 2, firstRetryIntervalMs: 100 },
    concurrency: { maxInFlight: 2 },
    aggregate: { kind: "vote", field: "verdict" },
  });
  const done = await pollUntilDone(target, id, 30_000);
  expect(done.result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
  // Batches of 3 cannot meet a quorum of 4 alone: the parent decides on merged batches, so 4 or 5 agree.
  expect(done.result.aggregate).toMatchObject({ kind: "vote", value: "yes" });
  expect(done.result.aggregate.count).toBeGreaterThanOrEqual(4);
  expect(most).toBeLessThanOrEqual(2);
  await Promise.all(answers);
  const ok = (done.result.responses as AnyJson[]).filter((r) => r.status === "succeeded");
  expect(ok.every((r) => r.attempts === 2)).toBe(true);
  expect((await getGather(target, id)).body.result.counts.total).toBe(6);
});

test("a callback recipient that timed out, redriven: delivered again with a new token, shown waiting for its reply, its reply merged; the old token is refused", async () => {
  let round = 0;
  const server = await recipientServer(() => ({ status: 202, text: "" }));
  const { id } = await startOk(target, {
    request: { q: 1 },
    recipients: [
      { id: "quick", simulate: { value: { n: 1 } } },
      { id: "slow", url: `${server.url}/cb`, reply: "callback" },
    ],
    completion: { mode: "all", timeoutMs: 1_500 },
    aggregate: { kind: "summary", field: "n" },
  });
  const first = await pollUntilDone(target, id, 15_000);
  expect(first.result.counts).toMatchObject({ succeeded: 1, timedOut: 1 });
  const oldUrl = server.calls[0].body.respondUrl as string;
  round++;

  const redrive = await request(`${target.baseUrl}/api/scatter-gather/${id}/redrive`, { method: "POST" });
  expect(redrive.status).toBe(202);
  await server.waitForCalls(2);
  const newUrl = server.calls[1].body.respondUrl as string;
  expect(newUrl).not.toBe(oldUrl);
  expect(server.calls[1].body).toMatchObject({ requestId: id, recipientId: "slow", request: { q: 1 } });
  // While the redrive waits for the reply, the responses route says so, next to the kept answer.
  const waiting = await request(`${target.baseUrl}/api/scatter-gather/${id}/responses`);
  expect(waiting.body.items).toMatchObject([
    { recipientId: "quick", status: "succeeded", attempts: 1 },
    { recipientId: "slow", status: "pending", waitingFor: "reply" },
  ]);
  // The earlier run's token opens nothing now; the new one does.
  expect((await postAnonymous(oldUrl, { value: { n: 5 } })).status).toBe(401);
  expect((await postAnonymous(newUrl, { value: { n: 2 } })).status).toBe(202);
  const done = await pollUntil(target, id, (s) => s.runtimeStatus === "Completed" && s.result?.redrives === round, 15_000);
  expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 2, succeeded: 2 } });
  expect(done.result.aggregate).toMatchObject({ kind: "summary", sum: 3, count: 2 });
});

test("a reply for a batch that has ended while its gather still runs is refused (410), never accepted and dropped", async () => {
  // Batch 0 (cb0, a fast simulated recipient, a 4 s one) meets `first` inside itself and ends; the gather then
  // closes batch 1 (a 4 s recipient) and takes back what it had. cb0 replies after its batch ended.
  const instance = async (instanceId: string) =>
    (await request(`${target.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}?showInput=true`)).body;
  const server = await recipientServer(() => ({ status: 202, text: "" }));
  const slow = await recipientServer(() => ({ json: { v: "slow" }, delayMs: 4000 }));
  const id = uniqueId("cb-batch-ended");
  await startOk(target, {
    id,
    request: 1,
    recipients: [
      { id: "cb0", url: `${server.url}/cb`, reply: "callback" },
      { id: "sim", simulate: { value: 1, latencyMs: 300 } },
      { id: "slow0", url: `${slow.url}/q` },
      { id: "slow1", url: `${slow.url}/q` },
    ],
    completion: { mode: "first", timeoutMs: 20_000 },
  });
  await server.waitForCalls(1);
  const batch0 = `${(await instance(id)).input.batchIdPrefix}0`;
  // Its gathering has ended (it met the policy); it may still run until its calls in flight end.
  const ended = async () =>
    (await instance(batch0))?.customStatus?.phase === "done" || (await instance(batch0))?.runtimeStatus === "Completed";
  for (let i = 0; i < 400 && !(await ended()); i++) await sleep(10);
  const reply = await postAnonymous(server.calls[0].body.respondUrl as string, { value: { late: true } });
  expect(reply.status).toBe(410);
  expect(reply.body.error.message).toMatch(/has closed: the reply came too late/);
  const done = await pollUntilDone(target, id, 30_000);
  expect(done.result.responses.find((r: AnyJson) => r.recipientId === "cb0").status).toBe("abandoned");
});

test("in a batch that has ended while its gather goes on: a second reply is 409, a late reply 410 each time it comes", async () => {
  // Batch 0: "quick" replies at once, the delivery to "refused" fails (500: the recipient is failed, its token was
  // sent), "sync" answers; batch 1's "other" keeps the gather gathering until it replies.
  const server = await recipientServer((call) =>
    call.body?.recipientId === "refused" ? { status: 500, text: "no" } : { status: 202, text: "" },
  );
  const url = `${server.url}/work`;
  const id = uniqueId("cb-batch-over");
  await startOk(target, {
    id,
    request: 1,
    recipients: [
      { id: "quick", url, reply: "callback" },
      { id: "refused", url, reply: "callback" },
      { id: "sync", simulate: { value: 1 } },
      { id: "other", url, reply: "callback" },
    ],
    completion: { mode: "all", timeoutMs: 20_000 },
  });
  await server.waitForCalls(3);
  const respondUrl = (recipientId: string) => server.calls.find((c) => c.body?.recipientId === recipientId)!.body.respondUrl as string;
  expect((await postAnonymous(respondUrl("quick"), { value: { price: 1 } })).status).toBe(202);
  // Batch 0 has settled everyone: its gathering is over while the gather waits for "other".
  await pollUntil(target, id, (s) => s.progress?.succeeded === 2 && s.progress?.failed === 1, 15_000, 100);
  await sleep(500);
  // The first reply settled quick: a second one is a second reply (409), not a late one.
  expect((await postAnonymous(respondUrl("quick"), { value: { price: 2 } })).status).toBe(409);
  // refused's reply counts for nothing and keeps nothing: sent again, it is late again (410), not a second reply.
  for (let attempt = 0; attempt < 2; attempt++)
    expect((await postAnonymous(respondUrl("refused"), { value: { price: 3 } })).status).toBe(410);
  const running = await request(`${target.baseUrl}/api/scatter-gather/${id}/responses`);
  expect(running.body.items.find((r: AnyJson) => r.recipientId === "refused").status).not.toBe("succeeded");
  expect((await postAnonymous(respondUrl("other"), { value: { price: 4 } })).status).toBe(202);
  const done = await pollUntilDone(target, id, 20_000);
  expect(done.result.counts).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
  const byId = Object.fromEntries((done.result.responses as AnyJson[]).map((r) => [r.recipientId, r]));
  expect(byId.quick).toMatchObject({ status: "succeeded", value: { price: 1 } });
  expect(byId.refused.status).toBe("failed");
});

test("a tolerance tipped by failures in two batches closes within a census or two, though one batch holds a silent callback", async () => {
  // Batches of 3: [cbA (callback, never replies), f1 (500), u1] [f2 (500 after 300 ms), u2, u3] [u4, u5, u6 (2 s)].
  // Bound 1: f1 and f2 make 2. Batch 0 waits on cbA until the 15 s deadline; the parent's census sees its failure.
  const server = await recipientServer((call) => {
    const id = call.body?.recipientId as string;
    if (id === "cbA") return { status: 202, text: "" };
    if (id.startsWith("f")) return { status: 500, json: { down: true }, delayMs: id === "f2" ? 300 : 0 };
    return { json: { ok: id }, delayMs: id >= "u4" ? 2000 : 0 };
  });
  const url = `${server.url}/work`;
  const id = uniqueId("census-tolerance");
  const t0 = Date.now();
  await startOk(target, {
    id,
    request: 1,
    recipients: [{ id: "cbA", url, reply: "callback" }, ...["f1", "u1", "f2", "u2", "u3", "u4", "u5", "u6"].map((r) => ({ id: r, url }))],
    completion: { mode: "all", timeoutMs: 15_000 },
    tolerance: { maxFailures: 1 },
  });
  const done = await pollUntilDone(target, id, 20_000, 100);
  const closedAfterMs = Date.parse(done.result.closedAt) - t0;
  expect(done.result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded" });
  // The census runs from 2 s on: closed well before the deadline (15 s) that the batches alone would have waited for.
  expect(closedAfterMs).toBeLessThan(12_000);
  const byId = Object.fromEntries((done.result.responses as AnyJson[]).map((r) => [r.recipientId, r.status]));
  expect(byId).toMatchObject({ cbA: "abandoned", f1: "failed", f2: "failed" });
});

test("an agreement quorum spread over batches closes at a census, though one batch holds a recipient that never answers", async () => {
  // Batches of 3, quorum 6 agreeing: 8 of 9 answer 42 at once, "hang" never answers. Batch 0 would wait for it until
  // the 20 s deadline; the parent's census counts the running batches' votes with its own and closes at ~2 s.
  const server = await recipientServer((call) =>
    call.body?.recipientId === "hang"
      ? { json: { answer: 42 }, delayMs: 60_000 }
      : { json: { answer: call.body?.recipientId === "odd" ? 41 : 42 } },
  );
  const url = `${server.url}/oracle`;
  const id = uniqueId("census-agreement");
  const t0 = Date.now();
  const names = ["hang", "o1", "o2", "o3", "o4", "odd", "o5", "o6", "o7"];
  await startOk(target, {
    id,
    request: { question: "6 × 7" },
    recipients: names.map((r) => ({ id: r, url, timeoutMs: 60_000 })),
    completion: { mode: "quorum", quorum: 6, agree: true, timeoutMs: 20_000 },
    aggregate: { kind: "vote" },
  });
  const done = await pollUntilDone(target, id, 25_000, 100);
  expect(done.result).toMatchObject({
    outcome: "complete",
    closedBy: "quorum-reached",
    aggregate: { kind: "vote", value: { answer: 42 } },
  });
  expect(done.result.aggregate.count).toBeGreaterThanOrEqual(6);
  expect(Date.parse(done.result.closedAt) - t0).toBeLessThan(12_000); // the deadline is at 20 s
  const byId = Object.fromEntries((done.result.responses as AnyJson[]).map((r) => [r.recipientId, r.status]));
  expect(byId.hang).toBe("abandoned");
});
