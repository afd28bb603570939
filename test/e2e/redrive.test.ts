/**
 * POST /api/scatter-gather/{id}/redrive over HTTP (docs/api.md), against loopback recipient servers that count
 * the calls each recipient gets: only the failed (timed-out, abandoned) recipients are called again, the merged
 * result covers the whole gather (counts, responses, aggregate, attempts adding up, `redrives`), the responses
 * route reads the earlier runs' answers; a redrive of a redrive; batches (a host with FANOUT_BATCH_SIZE 5);
 * a gather closed by its failure tolerance; and the 409 / 404 / 400 answers.
 */
import {
  gatherUrl,
  pollUntil,
  pollUntilDone,
  postJson,
  recipientServer,
  request,
  startOk,
  uniqueId,
  useTarget,
  type AnyJson,
  type RecipientServer,
} from "./harness";

jest.setTimeout(60_000);

const target = useTarget({ FANOUT_BATCH_SIZE: "5" });

/** A server whose recipients in `broken` answer 500; counts the calls of each recipient. */
async function flakyServer(broken: Set<string>, delayMs = 0) {
  const calls = new Map<string, number>();
  const server: RecipientServer = await recipientServer((call) => {
    const id = call.body.recipientId as string;
    calls.set(id, (calls.get(id) ?? 0) + 1);
    if (broken.has(id)) return { status: 500, json: { down: true }, delayMs };
    return { json: { price: Number(id.slice(1)) * 10 }, delayMs };
  });
  return { server, calls: (id: string) => calls.get(id) ?? 0, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}

const recipients = (n: number, server: RecipientServer) =>
  Array.from({ length: n }, (_, i) => ({ id: `r${i}`, url: `${server.url}/quote`, timeoutMs: 5000 }));

const redriveUrl = (id: string, status?: string) => `${gatherUrl(target, id)}/redrive${status ? `?status=${status}` : ""}`;

async function redrive(id: string, status?: string) {
  return postJson(redriveUrl(id, status), {});
}

async function redriveDone(id: string, redrives: number): Promise<AnyJson> {
  return pollUntil(
    target,
    id,
    (b) => b.runtimeStatus !== "Running" && b.runtimeStatus !== "Pending" && b.result?.redrives === redrives,
    30_000,
  );
}

async function allResponses(id: string): Promise<AnyJson[]> {
  const page = await request(`${gatherUrl(target, id)}/responses?limit=1000`);
  expect(page.status).toBe(200);
  return page.body.items;
}

test("only the failed recipients are called again; the result covers the whole gather; a redrive of a redrive", async () => {
  const broken = new Set(["r1", "r3", "r4"]);
  const fleet = await flakyServer(broken);
  const id = uniqueId("redrive");
  await startOk(target, {
    id,
    request: { job: "quote" },
    recipients: recipients(4, fleet.server),
    retry: { maxAttempts: 2, firstRetryIntervalMs: 50, backoffCoefficient: 1 },
    aggregate: { kind: "summary", field: "price" },
    completion: { mode: "all", timeoutMs: 20_000 },
  });
  const first = await pollUntilDone(target, id);
  expect(first.result.counts).toEqual({ total: 4, succeeded: 2, failed: 2, timedOut: 0, abandoned: 0 });
  expect(first.result.redrives).toBeUndefined();
  expect(fleet.total()).toBe(6);

  broken.delete("r1"); // r3 stays down for the first redrive
  const accepted = await redrive(id);
  expect(accepted.status).toBe(202);
  expect(accepted.body.id).toBe(id);
  for (const key of ["statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"]) {
    expect(accepted.body[key]).toMatch(/^http/);
  }
  expect(accepted.headers.get("location")).toBe(accepted.body.statusQueryGetUri);
  const second = await redriveDone(id, 1);
  expect(second.runtimeStatus).toBe("Completed");
  // r0 and r2 were never called again; r1 and r3 once more each (r3 with its retry).
  expect([0, 1, 2, 3].map((i) => fleet.calls(`r${i}`))).toEqual([1, 3, 1, 4]);
  const result = second.result;
  expect(result.id).toBe(id);
  expect(result.counts).toEqual({ total: 4, succeeded: 3, failed: 1, timedOut: 0, abandoned: 0 });
  expect(result.aggregate).toMatchObject({ kind: "summary", count: 3, sum: 0 + 10 + 20, min: 0, max: 20 });
  expect(result.responses.map((r: AnyJson) => [r.recipientId, r.status, r.attempts, r.value?.price ?? null])).toEqual([
    ["r0", "succeeded", 1, 0],
    ["r1", "succeeded", 3, 10],
    ["r2", "succeeded", 1, 20],
    ["r3", "failed", 4, null],
  ]);
  expect(result.responsesUri).toBe(first.result.responsesUri);

  // The responses route reads the answers of both runs.
  const items = await allResponses(id);
  expect(items.map((r: AnyJson) => [r.recipientId, r.status, r.value?.price ?? null])).toEqual([
    ["r0", "succeeded", 0],
    ["r1", "succeeded", 10],
    ["r2", "succeeded", 20],
    ["r3", "failed", null],
  ]);

  // A redrive of a redrive: r3 alone, and the answers of the first two runs stay readable.
  broken.clear();
  expect((await redrive(id, "failed")).status).toBe(202);
  const third = await redriveDone(id, 2);
  expect(third.result.counts).toEqual({ total: 4, succeeded: 4, failed: 0, timedOut: 0, abandoned: 0 });
  expect(third.result.outcome).toBe("complete");
  expect([0, 1, 2, 3].map((i) => fleet.calls(`r${i}`))).toEqual([1, 3, 1, 5]);
  expect(third.result.responses.map((r: AnyJson) => [r.attempts, r.value.price])).toEqual([
    [1, 0],
    [3, 10],
    [1, 20],
    [5, 30],
  ]);
  expect((await allResponses(id)).map((r: AnyJson) => r.value.price)).toEqual([0, 10, 20, 30]);

  // Nothing left to redrive: 400 with the error shape.
  const nothing = await redrive(id);
  expect(nothing.status).toBe(400);
  expect(nothing.body.error).toMatchObject({ code: "invalid_request", message: expect.stringMatching(/nothing to redrive/) });

  // DELETE takes every run with it.
  expect((await request(gatherUrl(target, id), { method: "DELETE" })).status).toBe(204);
  expect((await request(gatherUrl(target, id))).status).toBe(404);
});

test("while a redrive runs, the responses route counts a redriven answer's attempts across runs, as the result will", async () => {
  let redriving = false;
  // The first run: r1 and r2 fail. The redrive: r1 answers at once, r2 after 2.5 s.
  const server = await recipientServer((call) => {
    const recipientId = call.body.recipientId as string;
    if (!redriving) return recipientId === "r0" ? { json: { price: 0 } } : { status: 500, json: { down: true } };
    return { json: { price: 2 }, delayMs: recipientId === "r2" ? 2500 : 0 };
  });
  const id = uniqueId("redrive-live");
  await startOk(target, { id, request: null, recipients: recipients(3, server) });
  await pollUntilDone(target, id);
  redriving = true;
  expect((await redrive(id)).status).toBe(202);
  let live: AnyJson[] = [];
  for (let tries = 0; tries < 100 && live.find((r) => r.recipientId === "r1")?.status !== "succeeded"; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    live = await allResponses(id);
  }
  expect((await request(gatherUrl(target, id))).body.runtimeStatus).toBe("Running");
  expect(live.map((r) => [r.recipientId, r.status, r.attempts])).toEqual([
    ["r0", "succeeded", 1],
    ["r1", "succeeded", 2],
    ["r2", "pending", undefined],
  ]);
  const done = await redriveDone(id, 1);
  expect(done.result.responses.map((r: AnyJson) => r.attempts)).toEqual([1, 2, 2]);
});

test("409 while running, 404 unknown, 400 for a bad status", async () => {
  const slow = await flakyServer(new Set(), 1500);
  const id = uniqueId("redrive-busy");
  await startOk(target, { id, request: null, recipients: recipients(1, slow.server) });
  const busy = await redrive(id);
  expect(busy.status).toBe(409);
  expect(busy.body.error.code).toBe("conflict");
  expect(busy.body.statusQueryGetUri).toMatch(/^http/);

  const unknown = await redrive(uniqueId("never-started"));
  expect(unknown.status).toBe(404);

  const bad = await redrive(id, "succeeded");
  expect(bad.status).toBe(400);
  expect(bad.body.error.details).toEqual([{ path: "status", message: expect.stringMatching(/succeeded/) }]);

  // Terminated: 409 too (only a Completed gather has a result to redrive from).
  expect((await postJson(`${gatherUrl(target, id)}/terminate`, {})).status).toBe(202);
  await pollUntil(target, id, (b) => b.runtimeStatus === "Terminated");
  const terminated = await redrive(id);
  expect(terminated.status).toBe(409);
  expect(terminated.body.error.message).toMatch(/Terminated: only a Completed gather can be redriven/);
});

test("with batches: 12 recipients, 8 fail, redriven in batches of 5; the kept answers stay in the aggregate", async () => {
  const broken = new Set(Array.from({ length: 8 }, (_, i) => `r${i + 2}`));
  const fleet = await flakyServer(broken);
  const id = uniqueId("redrive-batches");
  await startOk(target, {
    id,
    request: { job: "batches" },
    recipients: recipients(12, fleet.server),
    aggregate: { kind: "best", field: "price", order: "max" },
    concurrency: { maxInFlight: 4 },
  });
  const first = await pollUntilDone(target, id);
  expect(first.result.counts).toMatchObject({ total: 12, succeeded: 4, failed: 8 });
  // The best of the first run is r11 (price 110), kept through the redrive.
  expect(first.result.aggregate).toMatchObject({ recipientId: "r11", value: { price: 110 } });
  broken.clear();
  expect((await redrive(id, "failed")).status).toBe(202);
  const second = await redriveDone(id, 1);
  expect(second.result.counts).toEqual({ total: 12, succeeded: 12, failed: 0, timedOut: 0, abandoned: 0 });
  expect(second.result.aggregate).toMatchObject({ kind: "best", recipientId: "r11", value: { price: 110 } });
  expect(fleet.total()).toBe(12 + 8);
  for (let i = 0; i < 12; i++) expect(fleet.calls(`r${i}`)).toBe(i >= 2 && i < 10 ? 2 : 1);
  expect(second.result.responses.map((r: AnyJson) => r.attempts)).toEqual(Array.from({ length: 12 }, (_, i) => (i >= 2 && i < 10 ? 2 : 1)));
  expect((await allResponses(id)).map((r: AnyJson) => r.value.price)).toEqual(Array.from({ length: 12 }, (_, i) => i * 10));
  // The batches of the redrive carry the new run's tag; the first run's were purged when it started, the
  // redrive's are purged with the gather.
  const batches = async () => (await request(`${target.baseUrl}/runtime/webhooks/durabletask/instances?instanceIdPrefix=${id}~`)).body;
  const live = await batches();
  expect(live.map((s: AnyJson) => s.instanceId)).toHaveLength(2);
  expect((await request(gatherUrl(target, id), { method: "DELETE" })).status).toBe(204);
  expect(await batches()).toEqual([]);
});

test("a gather closed by its failure tolerance: the abandoned recipients are called on redrive", async () => {
  const broken = new Set(["r0"]);
  const fleet = await flakyServer(broken, 20);
  const id = uniqueId("redrive-tolerance");
  await startOk(target, {
    id,
    request: null,
    recipients: recipients(4, fleet.server),
    tolerance: { maxFailures: 0 },
    concurrency: { maxInFlight: 1 },
    aggregate: { kind: "collect" },
  });
  const first = await pollUntilDone(target, id);
  expect(first.result).toMatchObject({ outcome: "failed", closedBy: "failure-tolerance-exceeded" });
  expect(first.result.counts).toEqual({ total: 4, succeeded: 0, failed: 1, timedOut: 0, abandoned: 3 });
  expect(fleet.total()).toBe(1);

  // Only the abandoned ones: r0 stays failed, the tolerance counts the redriven recipients only.
  expect((await redrive(id, "abandoned")).status).toBe(202);
  const second = await redriveDone(id, 1);
  expect(second.result).toMatchObject({ outcome: "complete", closedBy: "all-responded" });
  expect(second.result.counts).toEqual({ total: 4, succeeded: 3, failed: 1, timedOut: 0, abandoned: 0 });
  expect([0, 1, 2, 3].map((i) => fleet.calls(`r${i}`))).toEqual([1, 1, 1, 1]);
  expect(second.result.aggregate).toEqual({
    kind: "collect",
    count: 3,
    values: { r1: { price: 10 }, r2: { price: 20 }, r3: { price: 30 } },
  });
  expect(second.result.responses[0]).toMatchObject({ recipientId: "r0", status: "failed", attempts: 1 });
});

test("an agreement quorum counts the earlier equal answers: 2 earlier + 1 redriven make 3", async () => {
  const answers: Record<string, unknown> = { r0: { v: 1 }, r1: { v: 1 }, r2: null, r3: null };
  const calls = new Map<string, number>();
  const server = await recipientServer((call) => {
    const id = call.body.recipientId as string;
    calls.set(id, (calls.get(id) ?? 0) + 1);
    // The failures come last, so the first run settles r0 and r1 (not abandoned) before the quorum is unreachable.
    return answers[id] === null ? { status: 500, json: { down: true }, delayMs: 300 } : { json: answers[id] };
  });
  const id = uniqueId("redrive-agree");
  await startOk(target, {
    id,
    request: null,
    recipients: recipients(4, server),
    completion: { mode: "quorum", quorum: 3, agree: true },
    aggregate: { kind: "vote" },
  });
  const first = await pollUntilDone(target, id);
  expect(first.result).toMatchObject({ outcome: "failed", closedBy: "quorum-unreachable" });
  expect(first.result.counts).toMatchObject({ succeeded: 2, failed: 2 });
  answers.r2 = { v: 1 };
  answers.r3 = { v: 2 };
  expect((await redrive(id)).status).toBe(202);
  const second = await redriveDone(id, 1);
  expect(second.result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
  expect(second.result.aggregate).toEqual({ kind: "vote", value: { v: 1 }, count: 3 });
  expect(calls.get("r0")).toBe(1);
  expect(calls.get("r1")).toBe(1);
});

test("an auction cannot be redriven (409)", async () => {
  const notify = await recipientServer(() => ({ json: { ok: true } }));
  const id = uniqueId("redrive-auction");
  await startOk(target, { id, request: null, auction: { notify: [`${notify.url}/rfq`] }, completion: { mode: "all", timeoutMs: 300 } });
  await pollUntilDone(target, id);
  const refused = await redrive(id);
  expect(refused.status).toBe(409);
  expect(refused.body.error.message).toMatch(/auction/);
});

test("a batched gather terminated while it gathers: what its batches settled stays, the rest is abandoned (status, responses, list)", async () => {
  // Batch 0 (r0-r4) answers at once; batch 1 (r5-r7) hangs until the terminate.
  const server = await recipientServer((call) => ({
    json: { ok: 1 },
    delayMs: Number((call.body.recipientId as string).slice(1)) >= 5 ? 30_000 : 0,
  }));
  const id = uniqueId("terminated-batches");
  await startOk(target, { id, request: 1, recipients: recipients(8, server).map((r) => ({ ...r, timeoutMs: 60_000 })) });
  await pollUntil(target, id, (b) => b.progress?.succeeded === 5, 20_000, 100);
  expect((await postJson(`${gatherUrl(target, id)}/terminate`, {})).status).toBe(202);
  const ended = await pollUntil(target, id, (b) => b.runtimeStatus === "Terminated");
  expect(ended.progress).toMatchObject({ phase: "done", total: 8, succeeded: 5, failed: 0, pending: 0 });
  const responses = (await request(`${gatherUrl(target, id)}/responses`)).body;
  expect(responses.items.map((r: AnyJson) => r.status)).toEqual([...Array(5).fill("succeeded"), ...Array(3).fill("abandoned")]);
  expect((await request(`${gatherUrl(target, id)}/responses?status=abandoned`)).body.total).toBe(3);
  const listed = (await request(`${target.baseUrl}/api/scatter-gather?runtimeStatus=Terminated&top=100`)).body.items as AnyJson[];
  expect(listed.find((g) => g.id === id)?.progress).toMatchObject({ phase: "done", pending: 0 });
});
