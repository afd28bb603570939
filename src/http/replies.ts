/**
 * Replies of callback and queue recipients (API.md "Asynchronous recipients"), for the answers route (POST
 * …/{id}/answers with a recipient token) and the reply queue's function (receiveReply) alike: whose reply it is
 * (the token, checked first: nothing else is revealed to a wrong one), whether the gather still takes it, and how
 * it is taken: stored once (the first reply wins), its facts computed here, and raised as REPLY_EVENT at the
 * instance that delivered it (the gather, or its batch). Never throws for what a sender did wrong: it says so.
 */
import type { DurableClient, DurableOrchestrationStatus } from "durable-functions";
import { findStatus, isActive, isInstanceGone, runStateOf } from "../durable/client";
import { REPLY_EVENT } from "../durable/names";
import type { AnswerRef } from "../gather/answerGroups";
import { answerFacts } from "../gather/facts";
import { isInstanceId } from "../gather/instanceIds";
import { isRecipientToken, readQueuedReply, replyTarget, type Reply, type ReplyEvent } from "../gather/replies";
import { RunPayloads } from "../gather/runPayloads";
import { repliesLater } from "../gather/transports";
import type { Json, OrchestrationInput, Recipient } from "../gather/types";
import { getPayloadStore } from "../payload";
import { answerTokenKey, recipientOfToken } from "./answerTokens";

/** A reply's recipient, found by its token. */
export interface ReplySender {
  id: string;
  status: DurableOrchestrationStatus;
  input: OrchestrationInput;
  index: number;
  recipientId: string;
  recipient: Recipient;
}

export type ReplyVerdict =
  /** 202: stored and raised. */
  | { kind: "accepted"; index: number }
  /** 409: the recipient had replied already; the first reply stands (raised again, should it have been lost). */
  | { kind: "duplicate"; index: number }
  /** 410: the gather (or the batch that delivered to the recipient) has closed. */
  | { kind: "closed"; message: string };

/** The recipient `token` belongs to, or undefined (unknown gather, another gather's or run's token, a forged one). */
export async function findReplySender(client: DurableClient, id: string, token: string): Promise<ReplySender | undefined> {
  if (!isInstanceId(id)) return undefined;
  const status = await findStatus(client, id, true);
  const input = status?.input as OrchestrationInput | undefined;
  if (!status || !input?.run || input.auction) return undefined;
  const recipients = await new RunPayloads(getPayloadStore(), input.run).recipients();
  const index = recipientOfToken(await answerTokenKey(getPayloadStore), input.run, recipients, token);
  if (index === undefined || !repliesLater(recipients[index])) return undefined;
  return { id, status, input, index, recipientId: recipients[index].id, recipient: recipients[index] };
}

/** How a 410 for a reply ends (`${closedFor(sender)}: ${REPLY_TOO_LATE}`). */
export const REPLY_TOO_LATE = "the reply came too late";

/** Undefined while the gather takes replies, else why not ("scatter-gather … has closed"); the caller says what came too late. */
export function closedFor(sender: ReplySender): string | undefined {
  // Past its gather (ended, or still aggregating or delivering its close event): the reply would count for nothing.
  if (runStateOf(sender.status, sender.input.run.runId) === "gathering") return undefined;
  if (!isActive(sender.status)) return `scatter-gather ${sender.id} is ${String(sender.status.runtimeStatus)}`;
  return hasClosed(sender);
}

/** Takes the sender's reply (already validated: gather/replies.ts readReply). */
export async function takeReply(client: DurableClient, sender: ReplySender, reply: Reply): Promise<ReplyVerdict> {
  const payloads = new RunPayloads(getPayloadStore(), sender.input.run);
  const stored = await payloads.storeReply(sender.index, sender.recipientId, reply);
  if (!stored.created) {
    // The first reply stands. It is raised again, harmlessly (the gather takes one reply per recipient), in case its
    // own request stopped between storing and raising it. A stored first reply was raised, or answered 202 and lost
    // to a crash: one too late is deleted below. So this is a second reply (409) even where the raise finds the
    // recipient's batch no longer gathering, because that first reply settled the batch.
    const first = await payloads.storedReply(sender.index);
    if (first) await raise(client, sender, first.reply, first.ref);
    return { kind: "duplicate", index: sender.index };
  }
  if (await raise(client, sender, reply, stored.ref)) return { kind: "accepted", index: sender.index };
  // Closed meanwhile: the reply counts for nothing, and its blob goes: a retry of it is too late again (not a
  // second reply), the responses route does not list it as an answer, and a run deleted meanwhile keeps nothing.
  await payloads.forgetReply(sender.index);
  return closed(sender);
}

function hasClosed(sender: ReplySender): string {
  return `scatter-gather ${sender.id} has closed`;
}

function closed(sender: ReplySender): { kind: "closed"; message: string } {
  return { kind: "closed", message: `${hasClosed(sender)}: ${REPLY_TOO_LATE}` };
}

/** Raises the reply at the instance waiting for it; false when that instance no longer runs. */
async function raise(client: DurableClient, sender: ReplySender, reply: Reply, ref: AnswerRef): Promise<boolean> {
  const { input, index } = sender;
  const data: ReplyEvent =
    "error" in reply
      ? { index, error: reply.error }
      : { index, answer: ref, facts: answerFacts(reply.value, { agree: input.completion.agree, aggregate: input.aggregate }) };
  const target = replyTarget(sender.id, input, index);
  // A batch may have ended its gathering while its gather goes on (the policy met inside it, or closed by the
  // gather): an event raised there would be dropped, and the client takes the extension's 410 for an ended
  // instance as delivered. So its own status decides first.
  if (target !== sender.id) {
    const batch = await findStatus(client, target, true);
    if (!batch || runStateOf(batch, input.run.runId) !== "gathering") return false;
  }
  try {
    await client.raiseEvent(target, REPLY_EVENT, data);
    return true;
  } catch (error) {
    if (isInstanceGone(error)) return false;
    throw error;
  }
}

/** What a recipient's requestUrl answers: the request and the recipient's own input (absent when not given). */
export async function recipientRequest(
  sender: ReplySender,
): Promise<{ requestId: string; recipientId: string; request: Json; input?: Json }> {
  const request = await new RunPayloads(getPayloadStore(), sender.input.run).request();
  const { recipient } = sender;
  return {
    requestId: sender.id,
    recipientId: sender.recipientId,
    request,
    ...(recipient.input !== undefined ? { input: recipient.input } : {}),
  };
}

/** A queued reply that is not a recipient's valid reply: receiveReply throws it, so the message ends in the poison queue. */
export class RefusedReply extends Error {
  override readonly name = "RefusedReply";
}

/**
 * A reply from the reply queue (receiveReply), taken as the answers route takes one. Throws a RefusedReply for a
 * malformed message, a wrong token, or a token of another recipient than the message names; a value over
 * MAX_RESPONSE_BYTES becomes the recipient's error (as a URL recipient's too large answer fails its attempt).
 */
export async function takeQueuedReply(
  client: DurableClient,
  message: unknown,
  maxResponseBytes: number,
): Promise<ReplyVerdict & { requestId: string; recipientId: string }> {
  const read = readQueuedReply(message);
  if (!read.ok) throw new RefusedReply(`malformed reply: ${read.message}`);
  const { requestId, recipientId, token } = read.queued;
  const sender = isRecipientToken(token) ? await findReplySender(client, requestId, token) : undefined;
  if (!sender || sender.recipientId !== recipientId)
    throw new RefusedReply(`reply for ${JSON.stringify(requestId)} / ${JSON.stringify(recipientId)}: its token is not this recipient's`);
  const closed = closedFor(sender);
  if (closed) return { kind: "closed", message: `${closed}: ${REPLY_TOO_LATE}`, requestId, recipientId };
  let reply = read.queued.reply;
  const bytes = "value" in reply ? Buffer.byteLength(JSON.stringify(reply.value), "utf8") : 0;
  if (bytes > maxResponseBytes) reply = { error: `reply value of ${bytes} bytes is larger than MAX_RESPONSE_BYTES (${maxResponseBytes})` };
  return { ...(await takeReply(client, sender, reply)), requestId, recipientId };
}
