/** Replies of callback and queue recipients (src/gather/replies.ts): tokens, bodies, events, targets, the bookkeeping. */
import { answerToken, recipientOfToken, recipientToken } from "../../src/http/answerTokens";
import { AwaitedReplies, parseRecipientToken, parseReplyEvent, readReply, replyTarget } from "../../src/gather/replies";

const KEY = Buffer.from("k".repeat(32));
const RUN = { instanceId: "g1", runId: "r1" };
const RECIPIENTS = [{ id: "a" }, { id: "b" }];

describe("recipient tokens", () => {
  test("bind the gather, the run and the recipient (index and id)", () => {
    const token = recipientToken(KEY, RUN, 1, "b");
    expect(token).toMatch(/^1\.[A-Za-z0-9_-]{43}$/);
    expect(recipientOfToken(KEY, RUN, RECIPIENTS, token)).toBe(1);
    expect(recipientOfToken(KEY, { ...RUN, runId: "r2" }, RECIPIENTS, token)).toBeUndefined();
    expect(recipientOfToken(KEY, { ...RUN, instanceId: "g2" }, RECIPIENTS, token)).toBeUndefined();
    // Another recipient's MAC under this index, another index with this MAC, a list where the id changed.
    expect(recipientOfToken(KEY, RUN, RECIPIENTS, `0.${token.split(".")[1]}`)).toBeUndefined();
    expect(recipientOfToken(KEY, RUN, [{ id: "a" }, { id: "c" }], token)).toBeUndefined();
    expect(recipientOfToken(KEY, RUN, RECIPIENTS, `5.${token.split(".")[1]}`)).toBeUndefined();
    // An auction token (no recipient) is no recipient token.
    expect(recipientOfToken(KEY, RUN, RECIPIENTS, answerToken(KEY, RUN))).toBeUndefined();
  });

  test("parse only `<index>.<43 base64url>`", () => {
    const mac = "A".repeat(43);
    expect(parseRecipientToken(`12.${mac}`)).toEqual({ index: 12, mac });
    for (const bad of [`012.${mac}`, `-1.${mac}`, `1.${mac}x`, `1.${mac.slice(1)}`, mac, `1.${mac}.2`, `1234567.${mac}`])
      expect(parseRecipientToken(bad)).toBeUndefined();
  });
});

describe("reply bodies", () => {
  test("{ value } (null included) or { error }, nothing else", () => {
    expect(readReply({ value: null })).toEqual({ ok: true, reply: { value: null } });
    expect(readReply({ value: { price: 1 } })).toEqual({ ok: true, reply: { value: { price: 1 } } });
    expect(readReply({ error: "no stock" })).toEqual({ ok: true, reply: { error: "no stock" } });
    for (const bad of [{}, { value: 1, error: "x" }, { error: "" }, { error: 3 }, { value: 1, extra: 2 }, [1], "x", null])
      expect(readReply(bad).ok).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(readReply({ value: deep }).ok).toBe(false);
  });
});

describe("reply events", () => {
  test("carry an index and a stored answer with its facts, or an error; anything else is ignored", () => {
    const answer = { group: "reply_1", offset: 0, length: 30 };
    expect(parseReplyEvent({ index: 1, answer, facts: { bytes: 3 } })).toEqual({ index: 1, answer, facts: { bytes: 3 } });
    expect(parseReplyEvent({ index: 1, error: "x" })).toEqual({ index: 1, error: "x" });
    for (const bad of [
      null,
      3,
      { index: -1, error: "x" },
      { index: 1.5, error: "x" },
      { index: 1, answer },
      { index: 1, facts: { bytes: 1 } },
    ])
      expect(parseReplyEvent(bad)).toBeUndefined();
    expect(parseReplyEvent({ index: 1, answer: { ...answer, group: "../x" }, facts: { bytes: 1 } })).toBeUndefined();
  });

  test("go to the gather, or to the batch that delivered", () => {
    expect(replyTarget("g", { recipientCount: 10, fanoutBatchSize: 250 }, 7)).toBe("g");
    expect(replyTarget("g", { recipientCount: 10, fanoutBatchSize: 3, batchIdPrefix: "g~batch-abc-" }, 7)).toBe("g~batch-abc-2");
    expect(replyTarget("g", { recipientCount: 10, fanoutBatchSize: 3, batchIdPrefix: "g~batch-abc-" }, 0)).toBe("g~batch-abc-0");
  });
});

describe("AwaitedReplies", () => {
  test("a reply after the acknowledgement frees the slot and counts from when the delivery was made", () => {
    const replies = new AwaitedReplies();
    replies.delivering(0, 1, 1000);
    replies.acknowledged(0, 1300, 200);
    expect(replies.waiting).toBe(1);
    expect(replies.reply(0, 3100)).toEqual({ attempts: 1, durationMs: 2000, freesSlot: true });
    expect(replies.waiting).toBe(0);
    expect(replies.reply(0, 3200)).toBeUndefined(); // taken once
  });

  test("a reply before the acknowledgement leaves the slot to the delivery; one never delivered is not awaited", () => {
    const replies = new AwaitedReplies();
    replies.delivering(2, 1, 1000);
    expect(replies.reply(2, 1050)).toEqual({ attempts: 1, durationMs: 50, freesSlot: false });
    replies.acknowledged(2, 1100, 80); // the delivery ends after its reply: nothing is awaited any more
    expect(replies.waiting).toBe(0);
    expect(replies.reply(3, 1000)).toBeUndefined();
  });

  test("a retry's delivery replaces the earlier attempt; forget ends the wait", () => {
    const replies = new AwaitedReplies();
    replies.delivering(1, 1, 0);
    replies.acknowledged(1, 10, 10);
    replies.delivering(1, 2, 500);
    expect(replies.waiting).toBe(0);
    replies.acknowledged(1, 600, 50);
    expect(replies.waiting).toBe(1);
    replies.forget(1);
    expect(replies.waiting).toBe(0);
    expect(replies.reply(1, 700)).toBeUndefined();
  });
});
