/**
 * Queue recipients (src/gather/transports/queue.ts): validation (queue naming rules, RECIPIENT_QUEUE_ALLOWLIST,
 * the app's own reply queue), the message (base64 JSON, the 64 KB rule counted on the base64 text), delivery
 * (the allowlist again, the sender's failures as failed attempts) and the Queue service settings (src/queues/config.ts).
 */
import { QueueAllowlist, UrlAllowlist } from "../../src/gather/allowlist";
import { deliver, RecipientError } from "../../src/gather/deliver";
import { DEFAULT_LIMITS, type Limits } from "../../src/gather/limits";
import { validateGatherRequest } from "../../src/gather/schema";
import { QUEUE_MESSAGE_LIMIT, queueMessage, REPLY_QUEUE, type QueueRecipient } from "../../src/gather/transports/queue";
import type { QueueSender } from "../../src/gather/transports/transport";
import { resolveQueueConnection } from "../../src/queues/config";
import { readQueuedReply } from "../../src/gather/replies";

const reply = {
  respondUrl: "https://app.example.net/api/scatter-gather/g1/answers?token=0.abc",
  requestUrl: "https://app.example.net/api/scatter-gather/g1/request?token=0.abc",
  token: "0.abc",
};

function validate(queue: unknown, allowlist: string[] = ["quotes-*", "orders"]) {
  const limits: Limits = { ...DEFAULT_LIMITS, recipientQueueAllowlist: allowlist };
  return validateGatherRequest({ request: 1, recipients: [{ id: "a", queue }], completion: { timeoutMs: 1000 } }, limits);
}
const details = (v: ReturnType<typeof validate>) => (v.ok ? [] : v.details);

describe("validation", () => {
  test("allowed names: exact entries and trailing-wildcard prefixes", () => {
    expect(validate("quotes-acme")).toMatchObject({ ok: true, value: { recipients: [{ id: "a", queue: "quotes-acme" }] } });
    expect(validate("orders").ok).toBe(true);
    expect(validate("orders-2").ok).toBe(false);
    expect(validate("anything-at-all", ["*"]).ok).toBe(true);
  });

  test("an empty allowlist refuses every queue, naming the setting", () => {
    expect(details(validate("quotes-acme", []))).toEqual([
      {
        path: "recipients[0].queue",
        message: 'queue "quotes-acme" is not in RECIPIENT_QUEUE_ALLOWLIST (empty: queue recipients are refused)',
      },
    ]);
  });

  test.each(["ab", "Quotes-acme", "quotes--acme", "-quotes", "quotes-", "quotes_acme", "q".repeat(64), ""])(
    "%j is not a queue name",
    (name) => {
      expect(details(validate(name, ["*"]))).toEqual([
        { path: "recipients[0].queue", message: expect.stringContaining("not a valid queue name") },
      ]);
    },
  );

  test("63 characters is the longest name", () => {
    expect(validate(`quotes-${"a".repeat(56)}`).ok).toBe(true);
  });

  test("the app's own reply queue and its poison queue are never a recipient's, whatever the allowlist", () => {
    for (const name of [REPLY_QUEUE, `${REPLY_QUEUE}-poison`])
      expect(details(validate(name, ["*"]))).toEqual([{ path: "recipients[0].queue", message: expect.stringContaining("reply queue") }]);
  });

  test("a queue name must be a string; queue and url do not mix", () => {
    expect(details(validate(42))[0].path).toBe("recipients[0].queue");
    const both = validateGatherRequest(
      { request: 1, recipients: [{ id: "a", queue: "orders", url: "http://127.0.0.1:1/" }], completion: { timeoutMs: 1000 } },
      { ...DEFAULT_LIMITS, recipientQueueAllowlist: ["orders"], recipientUrlAllowlist: ["http://127.0.0.1:*"] },
    );
    expect(both.ok).toBe(false);
  });

  test("QueueAllowlist: entries that are neither a name nor a prefix are ignored and reported", () => {
    const list = new QueueAllowlist(["quotes-*", "Bad Name", "x*y", "orders"]);
    expect(list.invalidEntries).toEqual(["Bad Name", "x*y"]);
    expect(list.describe()).toBe("orders, quotes-*");
    // A prefix allows only valid names.
    expect(list.allows("quotes-")).toBe(false);
  });
});

describe("the message", () => {
  const recipient: QueueRecipient = { id: "acme", queue: "quotes-acme", input: { item: 3 } };
  const decode = (text: string) => JSON.parse(Buffer.from(text, "base64").toString("utf8"));

  test("whole: base64 of { requestId, recipientId, request, input, respondUrl, replyQueue, token }", () => {
    const message = queueMessage({ requestId: "g1", recipient, request: { q: 1 } }, reply)!;
    expect(message.form).toBe("whole");
    expect(message.text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decode(message.text)).toEqual({
      requestId: "g1",
      recipientId: "acme",
      request: { q: 1 },
      input: { item: 3 },
      respondUrl: reply.respondUrl,
      replyQueue: "scatter-gather-replies",
      token: "0.abc",
    });
    // No input given: none in the message; null given: null.
    expect("input" in decode(queueMessage({ requestId: "g1", recipient: { id: "b", queue: "q" }, request: 1 }, reply)!.text)).toBe(false);
    expect(
      decode(queueMessage({ requestId: "g1", recipient: { id: "b", queue: "q", input: null }, request: 1 }, reply)!.text).input,
    ).toBeNull();
  });

  test("the 64 KB rule counts the base64 text: a 50 KB request fits as JSON but not once encoded", () => {
    const request = "x".repeat(50_000);
    const message = queueMessage({ requestId: "g1", recipient, request }, reply)!;
    expect(Buffer.byteLength(JSON.stringify(request))).toBeLessThan(QUEUE_MESSAGE_LIMIT);
    expect(message.form).toBe("requestUrl");
    const body = decode(message.text);
    expect(body.request).toBeUndefined();
    expect(body).toMatchObject({ requestUrl: reply.requestUrl, input: { item: 3 }, respondUrl: reply.respondUrl, token: "0.abc" });
  });

  test("the largest request that fits stays in the message; one character more and it becomes requestUrl", () => {
    // Find the longest string request whose message is at most the limit, by the rule itself, then check the boundary.
    let low = 0;
    let high = QUEUE_MESSAGE_LIMIT;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (queueMessage({ requestId: "g1", recipient, request: "y".repeat(mid) }, reply)!.form === "whole") low = mid;
      else high = mid - 1;
    }
    const fits = queueMessage({ requestId: "g1", recipient, request: "y".repeat(low) }, reply)!;
    expect(fits.form).toBe("whole");
    expect(fits.text.length).toBeLessThanOrEqual(QUEUE_MESSAGE_LIMIT);
    expect(fits.text.length).toBeGreaterThan(QUEUE_MESSAGE_LIMIT - 4);
    expect(queueMessage({ requestId: "g1", recipient, request: "y".repeat(low + 1) }, reply)!.form).toBe("requestUrl");
  });

  test("an input too large even without the request is left out too: requestUrl carries both", () => {
    const big = { ...recipient, input: "z".repeat(60_000) };
    const message = queueMessage({ requestId: "g1", recipient: big, request: 1 }, reply)!;
    expect(message.form).toBe("requestUrl-without-input");
    const body = decode(message.text);
    expect(body).not.toHaveProperty("input");
    expect(body).not.toHaveProperty("request");
    expect(body.requestUrl).toBe(reply.requestUrl);
    expect(message.text.length).toBeLessThanOrEqual(QUEUE_MESSAGE_LIMIT);
  });

  test("nothing fits: undefined (the delivery fails)", () => {
    expect(queueMessage({ requestId: "g1", recipient, request: 1 }, reply, 100)).toBeUndefined();
  });
});

describe("delivery", () => {
  const recipient: QueueRecipient = { id: "acme", queue: "quotes-acme" };
  function options(sender: QueueSender, allow = ["quotes-*"]) {
    return { maxResponseBytes: 65536, allowlist: new UrlAllowlist([]), queueAllowlist: new QueueAllowlist(allow), queues: sender };
  }

  test("puts one message and is acknowledged", async () => {
    const sent: [string, string][] = [];
    const answer = await deliver(
      { requestId: "g1", recipient, request: { q: 1 }, reply },
      options({ send: async (q, t) => void sent.push([q, t]) }),
    );
    expect(answer).toMatchObject({ value: null, acknowledged: true });
    expect(sent).toHaveLength(1);
    expect(sent[0][0]).toBe("quotes-acme");
    expect(JSON.parse(Buffer.from(sent[0][1], "base64").toString("utf8"))).toMatchObject({ requestId: "g1", request: { q: 1 } });
  });

  test("the allowlist is checked again: a queue no longer allowed fails the attempt, nothing is put", async () => {
    const send = jest.fn(async () => undefined);
    const failure = deliver({ requestId: "g1", recipient, request: 1, reply }, options({ send }, ["orders"]));
    await expect(failure).rejects.toBeInstanceOf(RecipientError);
    await expect(failure).rejects.toThrow('queue "quotes-acme" is not in RECIPIENT_QUEUE_ALLOWLIST');
    expect(send).not.toHaveBeenCalled();
  });

  test("a refused put (a missing queue) is a failed attempt naming the queue", async () => {
    const failure = deliver(
      { requestId: "g1", recipient, request: 1, reply },
      options({
        send: async () => {
          throw new Error("no such queue in the app's storage account (127.0.0.1:10001)");
        },
      }),
    );
    await expect(failure).rejects.toBeInstanceOf(RecipientError);
    await expect(failure).rejects.toThrow(`queue "quotes-acme": no such queue in the app's storage account`);
  });

  test("without a reply channel it is a bug, not a recipient's failure", async () => {
    const failure = deliver({ requestId: "g1", recipient, request: 1 }, options({ send: async () => undefined }));
    await expect(failure).rejects.not.toBeInstanceOf(RecipientError);
  });
});

describe("the Queue service settings (AzureWebJobsStorage)", () => {
  test("connection strings: QueueEndpoint, AccountName, UseDevelopmentStorage", () => {
    const key = "AccountKey=a2V5;";
    expect(
      resolveQueueConnection({ AzureWebJobsStorage: `AccountName=a;${key}QueueEndpoint=http://127.0.0.1:5/devstoreaccount1/` }),
    ).toMatchObject({
      kind: "connectionString",
      queueEndpoint: "http://127.0.0.1:5/devstoreaccount1",
    });
    expect(resolveQueueConnection({ AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=acct;${key}` }).queueEndpoint).toBe(
      "https://acct.queue.core.windows.net",
    );
    expect(resolveQueueConnection({ AzureWebJobsStorage: "UseDevelopmentStorage=true" }).queueEndpoint).toBe(
      "http://127.0.0.1:10001/devstoreaccount1",
    );
    expect(() => resolveQueueConnection({ AzureWebJobsStorage: `BlobEndpoint=http://127.0.0.1:1/x;${key}` })).toThrow(/QueueEndpoint/);
  });

  test("identity-based: __queueServiceUri, else __accountName, with the managed identity", () => {
    expect(
      resolveQueueConnection({
        AzureWebJobsStorage__queueServiceUri: "https://acct.queue.core.windows.net/",
        AzureWebJobsStorage__blobServiceUri: "https://acct.blob.core.windows.net/",
        AzureWebJobsStorage__credential: "managedidentity",
        AzureWebJobsStorage__clientId: "cid",
      }),
    ).toEqual({
      kind: "identity",
      queueEndpoint: "https://acct.queue.core.windows.net",
      credential: { type: "managedIdentity", clientId: "cid", resourceId: undefined },
    });
    expect(resolveQueueConnection({ AzureWebJobsStorage__accountName: "acct" })).toMatchObject({
      queueEndpoint: "https://acct.queue.core.windows.net",
      credential: { type: "default" },
    });
    // The blob endpoint alone names no Queue service.
    expect(() => resolveQueueConnection({ AzureWebJobsStorage__blobServiceUri: "https://acct.blob.core.windows.net" })).toThrow(
      /AzureWebJobsStorage__queueServiceUri/,
    );
  });
});

describe("a queued reply (receiveReply's message)", () => {
  const fields = { requestId: "g1", recipientId: "acme", token: "0.abc" };
  test("{ requestId, recipientId, token, value | error }, as an object or as JSON text", () => {
    expect(readQueuedReply({ ...fields, value: { price: 1 } })).toEqual({
      ok: true,
      queued: { ...fields, reply: { value: { price: 1 } } },
    });
    expect(readQueuedReply(JSON.stringify({ ...fields, error: "no" }))).toEqual({
      ok: true,
      queued: { ...fields, reply: { error: "no" } },
    });
    expect(readQueuedReply({ ...fields, value: null })).toMatchObject({ ok: true, queued: { reply: { value: null } } });
  });

  test.each([
    ["not JSON", "{ nope"],
    ["an array", [fields]],
    ["no token", { requestId: "g1", recipientId: "acme", value: 1 }],
    ["an empty recipientId", { ...fields, recipientId: "", value: 1 }],
    ["neither value nor error", { ...fields }],
    ["both", { ...fields, value: 1, error: "x" }],
    ["an unknown field", { ...fields, value: 1, extra: true }],
  ])("malformed: %s", (_, message) => {
    expect(readQueuedReply(message)).toMatchObject({ ok: false });
  });
});
