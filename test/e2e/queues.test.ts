/**
 * Queue recipients (`{ id, queue }`) over HTTP against the local host and its Azurite queue service: a worker in
 * this file reads the recipient queue (base64 JSON, as a Functions queue trigger reads it) and answers through
 * respondUrl or by putting a reply on the reply queue (receiveReply); a request over the 64 KB message limit comes
 * as requestUrl; a reply with a wrong token or a malformed one lands in scatter-gather-replies-poison after
 * maxDequeueCount (2 here, set by an app setting over host.json's default of 5) while the gather ends by its policy; the allowlist; a missing queue; queue
 * recipients mixed with URL, callback and simulated ones under all, first and quorum with agreement.
 *
 * Under BASE_URL set E2E_STORAGE_CONNECTION to the app's storage account connection string, or these are skipped.
 */
import { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { azuriteConnectionString } from "../../tools/local-host/payload-store";
import {
  closeAllServers,
  postAnonymous,
  pollUntilDone,
  recipientServer,
  request,
  sleep,
  startGather,
  startOk,
  uniqueId,
  useTarget,
  type AnyJson,
} from "./harness";

jest.setTimeout(90_000);
// Batches of 3: a gather of more recipients delivers from its batches, and replies go to the batch that waits.
// maxDequeueCount 2 through an app setting, as the Functions host takes host.json overrides: a poisoned reply moves sooner.
const target = useTarget({
  FANOUT_BATCH_SIZE: "3",
  RECIPIENT_QUEUE_ALLOWLIST: "sg-e2e-*, sg-exact",
  AzureFunctionsJobHost__extensions__queues__maxDequeueCount: "2",
});
afterEach(() => closeAllServers());

const REPLY_QUEUE = "scatter-gather-replies";
const POISON_QUEUE = `${REPLY_QUEUE}-poison`;

/** The storage account the app uses: the local host's Azurite (from its banner), or E2E_STORAGE_CONNECTION. */
function storage(): QueueServiceClient | undefined {
  const given = process.env.E2E_STORAGE_CONNECTION;
  if (given) return QueueServiceClient.fromConnectionString(given);
  const banner = target.host?.output() ?? "";
  const m = /Azurite blob service http:\/\/127\.0\.0\.1:(\d+)\/devstoreaccount1, queue service http:\/\/127\.0\.0\.1:(\d+)\//.exec(banner);
  return m ? QueueServiceClient.fromConnectionString(azuriteConnectionString(Number(m[1]), Number(m[2]))) : undefined;
}
const maybe = (name: string, fn: () => Promise<void>, timeout?: number) =>
  test(
    name,
    async () => {
      if (!storage()) {
        // Our own host always has Azurite: not finding it is a failure, never a skip.
        if (target.host) throw new Error(`no Azurite queue service in the host's banner:\n${target.host.output()}`);
        return console.warn(`skipped "${name}": no storage connection (E2E_STORAGE_CONNECTION)`);
      }
      await fn();
    },
    timeout,
  );

const encode = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8").toString("base64");
const decode = (text: string): AnyJson => JSON.parse(Buffer.from(text, "base64").toString("utf8"));

/** A recipient queue, created as its owner would, and a worker that answers each message with `answer`. */
async function queueWorker(answer: (message: AnyJson, text: string) => Promise<void> | void) {
  const name = `sg-e2e-${Math.random().toString(36).slice(2, 10)}`;
  const queue = storage()!.getQueueClient(name);
  await queue.createIfNotExists();
  const messages: { body: AnyJson; text: string }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 30 });
      for (const m of receivedMessageItems) {
        const body = decode(m.messageText);
        messages.push({ body, text: m.messageText });
        await answer(body, m.messageText);
        await queue.deleteMessage(m.messageId, m.popReceipt);
      }
      if (receivedMessageItems.length === 0) await sleep(50);
    }
  })();
  return {
    name,
    queue,
    messages,
    of: (recipientId: string) => messages.find((m) => m.body.recipientId === recipientId),
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Puts a reply on the reply queue, base64 as host.json's default messageEncoding reads it. */
async function putReply(reply: unknown): Promise<void> {
  await storage()!.getQueueClient(REPLY_QUEUE).sendMessage(encode(reply));
}

async function peekAll(queue: QueueClient): Promise<string[]> {
  if (!(await queue.exists())) return [];
  return (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText);
}

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await sleep(100);
  }
}

const byId = (done: AnyJson) => Object.fromEntries((done.result.responses as AnyJson[]).map((r) => [r.recipientId, r]));

maybe("the message, answers through respondUrl and through the reply queue, requestUrl, 401 and 410", async () => {
  const worker = await queueWorker(async (m) => {
    if (m.recipientId === "by-url") await postAnonymous(m.respondUrl, { value: { price: 40, via: "respondUrl" } });
    if (m.recipientId === "by-queue")
      await putReply({ requestId: m.requestId, recipientId: m.recipientId, token: m.token, value: { price: 41 } });
    if (m.recipientId === "error")
      await putReply({ requestId: m.requestId, recipientId: m.recipientId, token: m.token, error: "no stock" });
  });
  const id = uniqueId("queue");
  await startOk(target, {
    id,
    request: { question: "price?" },
    recipients: [
      { id: "by-url", queue: worker.name, input: { item: 1 } },
      { id: "by-queue", queue: worker.name, input: null },
      { id: "error", queue: worker.name },
    ],
    completion: { mode: "all", timeoutMs: 20_000 },
    aggregate: { kind: "best", field: "price", order: "min" },
  });
  const done = await pollUntilDone(target, id, 25_000);
  await worker.stop();
  expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { succeeded: 2, failed: 1 } });
  expect(byId(done)["by-url"]).toMatchObject({ status: "succeeded", value: { price: 40, via: "respondUrl" }, attempts: 1 });
  expect(byId(done)["by-queue"]).toMatchObject({ status: "succeeded", value: { price: 41 } });
  expect(byId(done).error).toMatchObject({ status: "failed", error: "no stock" });
  expect(done.result.aggregate).toMatchObject({ recipientId: "by-url", value: { price: 40 } });

  // The message: base64 JSON with exactly the contract's fields (input only when given, null kept).
  const first = worker.of("by-url")!.body;
  expect(Object.keys(first).sort()).toEqual(["input", "recipientId", "replyQueue", "request", "requestId", "respondUrl", "token"]);
  expect(first).toMatchObject({ requestId: id, recipientId: "by-url", request: { question: "price?" }, input: { item: 1 } });
  expect(first.replyQueue).toBe(REPLY_QUEUE);
  expect(first.respondUrl).toBe(
    `${new URL(first.respondUrl).origin}/api/scatter-gather/${id}/answers?token=${encodeURIComponent(first.token)}`,
  );
  expect(worker.of("by-queue")!.body.input).toBeNull();
  expect("input" in worker.of("error")!.body).toBe(false);
  // The app created its reply queue.
  expect(await storage()!.getQueueClient(REPLY_QUEUE).exists()).toBe(true);

  // requestUrl after the close: 410 with the right token; 401 with another's, a forged one or none.
  const requestUrl = first.respondUrl.replace("/answers?", "/request?");
  expect((await fetch(requestUrl)).status).toBe(410);
  const other = worker.of("by-queue")!.body.token as string;
  for (const token of [`0.${other.split(".")[1]}`, `0.${"A".repeat(43)}`, "nope"]) {
    const url = new URL(requestUrl);
    url.searchParams.set("token", token);
    expect((await fetch(url)).status).toBe(401);
  }
  expect((await fetch(requestUrl.split("?")[0])).status).toBe(401);
  // A reply after the close is dropped (and logged), not poisoned.
  await putReply({ requestId: id, recipientId: "by-url", token: first.token, value: 1 });
  await waitFor(
    "the late reply's log line",
    async () => target.host?.output() ?? "",
    (out) => /reply of recipient by-url of .* dropped/.test(out) || !target.host,
  );
  expect((await peekAll(storage()!.getQueueClient(POISON_QUEUE))).map(decode).some((m: AnyJson) => m.requestId === id)).toBe(false);
  // The token never shows in status JSON or history.
  const history = await request(
    `${target.baseUrl}/runtime/webhooks/durabletask/instances/${id}?showHistory=true&showHistoryOutput=true&showInput=true`,
  );
  expect(history.text).not.toContain(first.token.split(".")[1]);
});

maybe("a request over the 64 KB message limit comes as requestUrl (and a large input too), served while the gather runs", async () => {
  const big = "x".repeat(70_000);
  const worker = await queueWorker(async (m) => {
    const got = m.requestUrl ? await (await fetch(m.requestUrl)).json() : m;
    await postAnonymous(m.respondUrl, {
      value: { requestLength: JSON.stringify(got.request).length, inputLength: JSON.stringify(got.input ?? null).length },
    });
  });
  const id = uniqueId("queue-big");
  await startOk(target, {
    id,
    request: { big },
    recipients: [
      { id: "big-request", queue: worker.name, input: { small: 1 } },
      { id: "big-input", queue: worker.name, input: { big } },
    ],
    completion: { mode: "all", timeoutMs: 20_000 },
  });
  const done = await pollUntilDone(target, id, 25_000);
  await worker.stop();
  const request = JSON.stringify({ big }).length;
  expect(byId(done)["big-request"]).toMatchObject({ status: "succeeded", value: { requestLength: request, inputLength: 11 } });
  expect(byId(done)["big-input"]).toMatchObject({ status: "succeeded", value: { requestLength: request } });
  expect(byId(done)["big-input"].value.inputLength).toBeGreaterThan(70_000);
  const a = worker.of("big-request")!;
  expect(a.text.length).toBeLessThanOrEqual(65_536);
  expect(a.body.request).toBeUndefined();
  expect(a.body.input).toEqual({ small: 1 });
  expect(a.body.requestUrl).toMatch(new RegExp(`/api/scatter-gather/${id}/request\\?token=0\\.`));
  // Even without the request the input does not fit: it comes from requestUrl alone.
  const b = worker.of("big-input")!;
  expect(b.body.request).toBeUndefined();
  expect("input" in b.body).toBe(false);
  expect(b.body.requestUrl).toMatch(/\/request\?token=1\./);
});

maybe(
  "a reply with a wrong token or a malformed one goes to the poison queue after maxDequeueCount; the gather ends by its policy",
  async () => {
    const tag = uniqueId("poison");
    let theirs: AnyJson;
    const worker = await queueWorker(async (m) => {
      theirs = m;
      const token = `${m.token.split(".")[0]}.${"B".repeat(43)}`;
      await putReply({ requestId: m.requestId, recipientId: m.recipientId, token, value: { tag } });
      // Another recipient's name with this recipient's token: refused too.
      await putReply({ requestId: m.requestId, recipientId: "sim", token: m.token, value: { tag } });
      await storage()!
        .getQueueClient(REPLY_QUEUE)
        .sendMessage(encode(`{ not json ${tag}`));
    });
    const id = uniqueId("queue-poison");
    await startOk(target, {
      id,
      request: 1,
      recipients: [
        { id: "q", queue: worker.name },
        { id: "sim", simulate: { value: 1 } },
      ],
      completion: { mode: "all", timeoutMs: 8_000 },
    });
    const poison = storage()!.getQueueClient(POISON_QUEUE);
    const poisoned = await waitFor(
      "three poisoned replies",
      async () => (await peekAll(poison)).map((t) => Buffer.from(t, "base64").toString("utf8")).filter((t) => t.includes(tag)),
      (found) => found.length === 3,
      30_000,
    );
    expect(poisoned.some((t) => t.startsWith("{ not json"))).toBe(true);
    if (target.host)
      expect(target.host.output()).toMatch(
        /Message has reached MaxDequeueCount of 2\. Moving message to queue 'scatter-gather-replies-poison'/,
      );
    const done = await pollUntilDone(target, id, 20_000);
    await worker.stop();
    expect(theirs.recipientId).toBe("q");
    expect(done.result).toMatchObject({ outcome: "partial", closedBy: "deadline" });
    expect(byId(done)).toMatchObject({ q: { status: "timedOut" }, sim: { status: "succeeded", value: 1 } });
    // The poisoned texts never reached the log with their token.
    if (target.host) expect(target.host.output()).not.toContain(theirs.token.split(".")[1]);
  },
);

test("queue names: the allowlist, the naming rules and the app's own reply queue are checked at validation (400)", async () => {
  const start = (queue: string) => startGather(target, { request: 1, recipients: [{ id: "a", queue }], completion: { timeoutMs: 1000 } });
  const outside = await start("quotes-acme");
  expect(outside.status).toBe(400);
  expect(outside.body.error.details).toEqual([
    { path: "recipients[0].queue", message: 'queue "quotes-acme" is not in RECIPIENT_QUEUE_ALLOWLIST sg-exact, sg-e2e-*' },
  ]);
  expect((await start("Sg-e2e-Upper")).body.error.details[0].message).toMatch(/not a valid queue name/);
  expect((await start("sg-e2e--double")).status).toBe(400);
  expect((await start(REPLY_QUEUE)).body.error.details[0].message).toMatch(/reply queue/);
  const noDeadline = await startGather(target, { request: 1, recipients: [{ id: "a", queue: "sg-exact" }] });
  expect(noDeadline.body.error.details).toEqual([expect.objectContaining({ path: "completion.timeoutMs" })]);
  const both = await startGather(target, {
    request: 1,
    recipients: [{ id: "a", queue: "sg-exact", url: "http://127.0.0.1:9/x" }],
    completion: { timeoutMs: 1000 },
  });
  expect(both.status).toBe(400);
});

maybe("a queue that does not exist fails the attempt, retried per retry, with a clear error", async () => {
  const done = await pollUntilDone(
    target,
    (
      await startOk(target, {
        request: 1,
        recipients: [{ id: "gone", queue: `sg-e2e-missing-${Date.now().toString(36)}` }],
        completion: { timeoutMs: 10_000 },
        retry: { maxAttempts: 2, firstRetryIntervalMs: 100 },
      })
    ).id,
    20_000,
  );
  expect(done.result).toMatchObject({ outcome: "failed", closedBy: "all-failed" });
  expect(done.result.responses[0]).toMatchObject({ status: "failed", attempts: 2 });
  expect(done.result.responses[0].error).toMatch(/no such queue in the app's storage account/);
});

describe("queue recipients mixed with URL, callback and simulated ones", () => {
  /**
   * Every kind answering `value(recipientId)`: URL at once, callback and queue 200 ms later (the queue through the reply
   * queue), or never with `replies: false`.
   */
  async function mixed(value: (recipientId: string) => unknown, replies = true) {
    const url = await recipientServer((call) => ({ json: value(call.body.recipientId) }));
    const callback = await recipientServer((call) => {
      if (replies) void sleep(200).then(() => postAnonymous(call.body.respondUrl, { value: value(call.body.recipientId) }));
      return { status: 202, text: "" };
    });
    const worker = await queueWorker((m) => {
      if (!replies) return;
      void sleep(200).then(() =>
        putReply({ requestId: m.requestId, recipientId: m.recipientId, token: m.token, value: value(m.recipientId) }),
      );
    });
    const recipients = [
      { id: "url", url: `${url.url}/q` },
      { id: "callback", url: `${callback.url}/q`, reply: "callback" },
      { id: "queue-1", queue: worker.name },
      { id: "queue-2", queue: worker.name },
      { id: "sim", simulate: { latencyMs: 100, value: value("sim") } },
    ];
    return { recipients, worker };
  }

  maybe("mode all: every kind answers", async () => {
    const { recipients, worker } = await mixed((id) => ({ from: id }));
    const { id } = await startOk(target, { request: 1, recipients, completion: { mode: "all", timeoutMs: 20_000 } });
    const done = await pollUntilDone(target, id, 25_000);
    await worker.stop();
    expect(done.result).toMatchObject({ outcome: "complete", closedBy: "all-responded", counts: { total: 5, succeeded: 5 } });
    for (const r of recipients) expect(byId(done)[r.id]).toMatchObject({ status: "succeeded", value: { from: r.id } });
    expect(byId(done)["queue-1"].durationMs).toBeGreaterThanOrEqual(150);
  });

  maybe("mode first: the URL recipient's answer closes it; the queue recipients are abandoned", async () => {
    // The callback and queue recipients take their deliveries and never reply: the URL's answer is first however
    // loaded the machine.
    const { recipients, worker } = await mixed((id) => ({ from: id }), false);
    const slowSim = recipients.map((r) => (r.id === "sim" ? { id: "sim", simulate: { latencyMs: 5_000, value: 1 } } : r));
    const { id } = await startOk(target, { request: 1, recipients: slowSim, completion: { mode: "first", timeoutMs: 20_000 } });
    const done = await pollUntilDone(target, id, 25_000);
    await worker.stop();
    expect(done.result).toMatchObject({ outcome: "complete", closedBy: "first-response", counts: { succeeded: 1 } });
    expect(byId(done).url).toMatchObject({ status: "succeeded" });
    expect(byId(done)["queue-1"].status).toBe("abandoned");
  });

  maybe("quorum with agreement: the queue and callback answers make the agreeing quorum", async () => {
    const { recipients, worker } = await mixed((id) => ({ verdict: id === "url" || id === "sim" ? "no" : "yes" }));
    const { id } = await startOk(target, {
      request: 1,
      recipients,
      completion: { mode: "quorum", quorum: 3, agree: true, timeoutMs: 20_000 },
      aggregate: { kind: "vote", field: "verdict" },
    });
    const done = await pollUntilDone(target, id, 25_000);
    await worker.stop();
    expect(done.result).toMatchObject({ outcome: "complete", closedBy: "quorum-reached" });
    expect(done.result.aggregate).toMatchObject({ kind: "vote", value: "yes", count: 3 });
    for (const r of ["callback", "queue-1", "queue-2"])
      expect(byId(done)[r]).toMatchObject({ status: "succeeded", value: { verdict: "yes" } });
  });
});
