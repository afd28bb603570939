/**
 * Replies of recipients that answer later (API.md "Asynchronous recipients": callback and queue recipients):
 * the recipient-bound token their delivery carries, the reply body they send, which instance waits for a
 * reply (the gather, or the batch that delivered it), and the one event a reply reaches it as.
 *
 * A recipient token is `<index>.<mac>`: the recipient's index in the run's stored list (so the route finds it
 * without a search) and the answer-URL HMAC over the gather, the run and `<index>:<recipient id>`
 * (http/answerTokens.ts). Auction tokens have no dot, so one answers route tells the two apart.
 */
import { z } from "zod";
import type { AnswerRef } from "./answerGroups";
import type { AnswerFacts } from "./facts";
import { jsonValue } from "./fields";
import { batchInstanceId } from "./instanceIds";
import { findJsonProblem } from "./json";
import { isGroupId } from "../payload/keys";
import { clipError } from "./outcomes";
import type { Json, OrchestrationInput } from "./types";

/** What a recipient token binds besides the gather and the run (answerTokens.ts TokenScope.recipientId). */
export function recipientScope(index: number, recipientId: string): string {
  return `${index}:${recipientId}`;
}

/** `<index>.<mac>`. */
export function formatRecipientToken(index: number, mac: string): string {
  return `${index}.${mac}`;
}

/** The index and MAC of a recipient token; undefined for anything else (an auction token has no dot). */
export function parseRecipientToken(token: string): { index: number; mac: string } | undefined {
  const match = /^(0|[1-9][0-9]{0,5})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { index: Number(match[1]), mac: match[2] } : undefined;
}

/** The reply body's schema, for the OpenAPI document (src/openapi). */
export { replySchema as recipientReplySchema };

export function isRecipientToken(token: string): boolean {
  return token.includes(".");
}

/** `{ value }` or `{ error }`; an error's text is clipped like every recipient error (outcomes.ts). */
const replySchema = z.union(
  [
    z.strictObject({ value: jsonValue }, { error: 'must be { "value": <JSON> } or { "error": "text" }' }),
    z.strictObject({ error: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }) }),
  ],
  { error: 'the body must be { "value": <JSON> } or { "error": "text" }' },
);

/** A recipient's reply: its answer, or the error it reports. */
export type Reply = { value: Json } | { error: string };

/** The reply in a body (the HTTP route's, a queue message's), or what is wrong with it. */
export function readReply(body: unknown): { ok: true; reply: Reply } | { ok: false; message: string } {
  const shape = findJsonProblem(body);
  if (shape) return { ok: false, message: `${shape.path || "the body"}: ${shape.message}` };
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return { ok: false, message: 'the body must be { "value": <JSON> } or { "error": "text" }' };
  const fields = body as Record<string, unknown>;
  if ("value" in fields && "error" in fields) return { ok: false, message: 'give either "value" or "error", not both' };
  const parsed = replySchema.safeParse(body);
  if (!parsed.success) return { ok: false, message: parsed.error.issues[0]?.message ?? "invalid reply" };
  return { ok: true, reply: "value" in parsed.data ? { value: parsed.data.value as Json } : { error: clipError(parsed.data.error) } };
}

/** A reply put on the reply queue: whose it is (checked against the token) and the reply itself. */
export interface QueuedReply {
  requestId: string;
  recipientId: string;
  token: string;
  reply: Reply;
}

/**
 * `{ requestId, recipientId, token, value | error }` from the reply queue (already decoded by the trigger: an
 * object, or a string that is JSON), or what is wrong with it. Nothing else is accepted.
 */
export function readQueuedReply(message: unknown): { ok: true; queued: QueuedReply } | { ok: false; message: string } {
  let body = message;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return { ok: false, message: "the message is not JSON" };
    }
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ok: false, message: "the message must be a JSON object" };
  const { requestId, recipientId, token, ...rest } = body as Record<string, unknown>;
  for (const [name, field] of Object.entries({ requestId, recipientId, token }))
    if (typeof field !== "string" || field === "") return { ok: false, message: `"${name}" must be a non-empty string` };
  const read = readReply(rest);
  if (!read.ok) return { ok: false, message: read.message.replace("the body", "the rest of the message") };
  return {
    ok: true,
    queued: { requestId: requestId as string, recipientId: recipientId as string, token: token as string, reply: read.reply },
  };
}

/**
 * The instance that delivered recipient `index`'s request and waits for its reply: the gather itself, or its
 * batch (gatherBatches.ts: batch n holds recipients n × FANOUT_BATCH_SIZE onwards).
 */
export function replyTarget(
  instanceId: string,
  input: Pick<OrchestrationInput, "recipientCount" | "fanoutBatchSize" | "batchIdPrefix">,
  index: number,
): string {
  const size = input.fanoutBatchSize;
  if (size === undefined || (input.recipientCount ?? 0) <= size) return instanceId;
  return batchInstanceId(instanceId, input.batchIdPrefix, Math.floor(index / size));
}

/** The data of the REPLY_EVENT: the stored answer and its facts (computed by the app, never by the sender), or the error. */
export type ReplyEvent = { index: number; answer: AnswerRef; facts: AnswerFacts } | { index: number; error: string };

/**
 * The event's data as the orchestrator takes it; undefined for anything malformed (events raised through
 * sendEventPostUri need the system key, but a gather never fails because of one).
 */
export function parseReplyEvent(data: unknown): ReplyEvent | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { index, answer, facts, error } = data as Record<string, unknown>;
  if (!Number.isSafeInteger(index) || (index as number) < 0) return undefined;
  if (typeof error === "string") return { index: index as number, error: clipError(error) };
  if (!isAnswerRef(answer) || typeof facts !== "object" || facts === null || typeof (facts as AnswerFacts).bytes !== "number")
    return undefined;
  return { index: index as number, answer, facts: facts as AnswerFacts };
}

function isAnswerRef(value: unknown): value is AnswerRef {
  if (typeof value !== "object" || value === null) return false;
  const { group, offset, length } = value as Record<string, unknown>;
  return isGroupId(group) && Number.isSafeInteger(offset) && Number.isSafeInteger(length);
}

/** The answer group a reply is stored as: one per recipient and run, created once (the first reply wins). */
export function replyGroup(index: number): string {
  return `reply_${index.toString(36)}`;
}

/**
 * One gather's recipients that answer later, from their delivery to their reply: which reply is awaited (one
 * delivered in this execution and not answered yet), how long it took, and whether the reply frees a window
 * slot (it does once the delivery was acknowledged; before that, the delivery's own end frees it).
 * Pure bookkeeping for the orchestrator, by index within the gather; O(1) a call.
 */
export class AwaitedReplies {
  private readonly sent = new Map<number, { attempt: number; at: number; acknowledged: boolean }>();
  private acknowledgedCount = 0;

  /** Delivered and acknowledged, reply not in yet ("waiting for reply"). */
  get waiting(): number {
    return this.acknowledgedCount;
  }

  /** An attempt to deliver to `index` was scheduled at `nowMs` (the orchestration's clock). */
  delivering(index: number, attempt: number, nowMs: number): void {
    this.forget(index);
    this.sent.set(index, { attempt, at: nowMs, acknowledged: false });
  }

  /** The delivery was acknowledged at `nowMs` after taking `durationMs`: the reply's wait starts when it was made. */
  acknowledged(index: number, nowMs: number, durationMs: number): void {
    const sent = this.sent.get(index);
    if (!sent || sent.acknowledged) return;
    sent.at = nowMs - durationMs;
    sent.acknowledged = true;
    this.acknowledgedCount++;
  }

  /** A reply for `index` came at `nowMs`: what to record, or undefined when none is awaited (never delivered here). */
  reply(index: number, nowMs: number): { attempts: number; durationMs: number; freesSlot: boolean } | undefined {
    const sent = this.sent.get(index);
    if (!sent) return undefined;
    this.forget(index);
    return { attempts: sent.attempt, durationMs: Math.max(0, Math.round(nowMs - sent.at)), freesSlot: sent.acknowledged };
  }

  /** `index` is settled otherwise (failed for good): nothing more is awaited. */
  forget(index: number): void {
    if (this.sent.get(index)?.acknowledged) this.acknowledgedCount--;
    this.sent.delete(index);
  }
}
