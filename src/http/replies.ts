/**
 * Replies of callback and queue recipients (API.md "Asynchronous recipients"), for the answers route (POST
 * …/{id}/answers with a recipient token) and the reply queue's function (receiveReply) alike: whose reply it is
 * (the token, checked first: nothing else is revealed to a wrong one), whether the gather still takes it, and how
 * it is taken: stored once (the first reply wins), its facts computed here, and raised as REPLY_EVENT at the
 * instance that delivered it (the gather, or its batch). Never throws for what a sender did wrong: it says so.
 */
import type { DurableClient, DurableOrchestrationStatus } from "durable-functions";
import { findStatus, isActive } from "../durable/client";
import { REPLY_EVENT } from "../durable/names";
import type { AnswerRef } from "../gather/answerGroups";
import { answerFacts } from "../gather/facts";
import { isInstanceId } from "../gather/instanceIds";
import { sweepIfRunDeleted } from "../gather/orphans";
import { replyTarget, type Reply, type ReplyEvent } from "../gather/replies";
import { RunPayloads } from "../gather/runPayloads";
import { repliesLater } from "../gather/transports";
import type { OrchestrationInput } from "../gather/types";
import { getPayloadStore } from "../payload";
import { answerTokenKey, recipientOfToken } from "./answerTokens";

/** A reply's recipient, found by its token. */
export interface ReplySender {
  id: string;
  status: DurableOrchestrationStatus;
  input: OrchestrationInput;
  index: number;
  recipientId: string;
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
  return { id, status, input, index, recipientId: recipients[index].id };
}

/** Undefined while the gather takes replies, else the 410's message. */
export function closedFor(sender: ReplySender): string | undefined {
  if (!isActive(sender.status)) return `scatter-gather ${sender.id} is ${String(sender.status.runtimeStatus)}: the reply came too late`;
  // Still running, but past its gather (aggregating, or delivering its close event): the reply would count for nothing.
  const phase = (sender.status.customStatus as { phase?: unknown } | null | undefined)?.phase;
  if (phase === "aggregating" || phase === "done") return `scatter-gather ${sender.id} has closed: the reply came too late`;
  return undefined;
}

/** Takes the sender's reply (already validated: gather/replies.ts readReply). */
export async function takeReply(client: DurableClient, sender: ReplySender, reply: Reply): Promise<ReplyVerdict> {
  const payloads = new RunPayloads(getPayloadStore(), sender.input.run);
  const stored = await payloads.storeReply(sender.index, sender.recipientId, reply);
  if (!stored.created) {
    // The first reply stands; raising it again is harmless (the gather takes one reply per recipient).
    const first = await payloads.storedReply(sender.index);
    if (first && !(await raise(client, sender, first.reply, first.ref))) return closed(sender);
    return { kind: "duplicate", index: sender.index };
  }
  if (await raise(client, sender, reply, stored.ref)) return { kind: "accepted", index: sender.index };
  // Closed meanwhile: a run deleted meanwhile must not keep this reply's blob.
  await sweepIfRunDeleted(getPayloadStore(), sender.input.run, stored.ref.group);
  return closed(sender);
}

function closed(sender: ReplySender): ReplyVerdict {
  return { kind: "closed", message: `scatter-gather ${sender.id} has closed: the reply came too late` };
}

/** Raises the reply at the instance waiting for it; false when that instance no longer runs. */
async function raise(client: DurableClient, sender: ReplySender, reply: Reply, ref: AnswerRef): Promise<boolean> {
  const { input, index } = sender;
  const data: ReplyEvent =
    "error" in reply
      ? { index, error: reply.error }
      : { index, answer: ref, facts: answerFacts(reply.value, { agree: input.completion.agree, aggregate: input.aggregate }) };
  const target = replyTarget(sender.id, input, index);
  try {
    await client.raiseEvent(target, REPLY_EVENT, data);
    return true;
  } catch (error) {
    // The extension answers 410 (or 404) for an instance that has ended (or never started).
    if (/\b(404|410)\b/.test((error as Error).message)) return false;
    throw error;
  }
}
