/**
 * Queue recipients (`{ id, queue }`, API.md "Asynchronous recipients"): the request is one message on a queue of
 * the app's storage account, whose name RECIPIENT_QUEUE_ALLOWLIST allows (checked at validation and again here).
 * The message is base64 JSON, what a Functions queue trigger reads by default:
 * `{ requestId, recipientId, request, input?, respondUrl, replyQueue, token }`. Put = acknowledged: the answer
 * comes later, to respondUrl or as a message on the reply queue (receiveReply).
 *
 * A queue message is at most 64 KiB of text (the base64 counted). A message that would pass it carries
 * `requestUrl` instead of `request` (GET it: `{ requestId, recipientId, request, input? }`); should that still
 * not fit (a large `input`), `input` is left out too and comes from requestUrl alone. The rule for a worker:
 * a message with `requestUrl` takes `request` and `input` from it.
 *
 * Recipient queues are not the app's to create: a missing queue fails the attempt (retried per `retry`).
 */
import { z } from "zod";
import { QUEUE_NAME_PATTERN, QUEUE_NAME_RULE } from "../allowlist";
import type { Json } from "../spec";
import { CANCELLED, defineTransport, RecipientError, type Delivery, type RecipientBase, type ReplyChannel } from "./transport";

export interface QueueRecipient extends RecipientBase {
  /** The queue's name, in the app's storage account (AzureWebJobsStorage). */
  queue: string;
}

/** The queue replies are put on (receiveReply's trigger); the app creates it if missing, and infra/ does. */
export const REPLY_QUEUE = "scatter-gather-replies";
/** The Queue service's largest message: 64 KiB of message text (here base64, so bytes = characters). */
export const QUEUE_MESSAGE_LIMIT = 65_536;
/** Queues the app itself reads: never a recipient's. */
const RESERVED_QUEUES: ReadonlySet<string> = new Set([REPLY_QUEUE, `${REPLY_QUEUE}-poison`]);

/** What the message carries, as the recipient reads it (before base64). */
export interface QueueMessageBody {
  requestId: string;
  recipientId: string;
  request?: Json;
  requestUrl?: string;
  input?: Json;
  respondUrl: string;
  replyQueue: string;
  token: string;
}

/** How the message was built: whole, with requestUrl for the request, or with requestUrl for request and input. */
export type QueueMessageForm = "whole" | "requestUrl" | "requestUrl-without-input";

/**
 * The message text (base64 of the JSON) for one delivery, the first form that fits in `limit` characters;
 * undefined when none does (only a reply channel of absurd length could make that happen).
 */
export function queueMessage(
  delivery: Pick<Delivery<QueueRecipient>, "requestId" | "recipient" | "request">,
  reply: ReplyChannel,
  limit = QUEUE_MESSAGE_LIMIT,
): { text: string; form: QueueMessageForm; body: QueueMessageBody } | undefined {
  const { requestId, recipient, request } = delivery;
  const input = recipient.input !== undefined ? { input: recipient.input } : {};
  const channel = { respondUrl: reply.respondUrl, replyQueue: REPLY_QUEUE, token: reply.token };
  const base = { requestId, recipientId: recipient.id };
  const forms: [QueueMessageForm, QueueMessageBody][] = [
    ["whole", { ...base, request, ...input, ...channel }],
    ["requestUrl", { ...base, requestUrl: reply.requestUrl, ...input, ...channel }],
    ["requestUrl-without-input", { ...base, requestUrl: reply.requestUrl, ...channel }],
  ];
  for (const [form, body] of forms) {
    // base64 is 4 characters per 3 bytes: the JSON's byte length says whether it fits before encoding it.
    const json = Buffer.from(JSON.stringify(body), "utf8");
    if (Math.ceil(json.byteLength / 3) * 4 <= limit) return { text: json.toString("base64"), form, body };
  }
  return undefined;
}

export const queueTransport = defineTransport({
  name: "queue",
  marker: "queue",
  label: "queue",
  fields: {
    queue: z.string({ error: "must be a string (a queue name)" }).optional(),
  },
  normalize(raw, at, context): QueueRecipient {
    const queue = raw.queue!;
    if (!QUEUE_NAME_PATTERN.test(queue)) context.problem(`${at}.queue`, `is not a valid queue name (${QUEUE_NAME_RULE})`);
    else if (RESERVED_QUEUES.has(queue)) context.problem(`${at}.queue`, `"${queue}" is the app's own reply queue, not a recipient's`);
    else context.checkQueue(`${at}.queue`, queue);
    return { id: raw.id, queue };
  },
  async deliver({ requestId, recipient, request, reply }, options) {
    if (!reply) throw new Error(`queue recipient "${recipient.id}" delivered without a reply channel`);
    // Checked again here: the allowlist may have changed since the request was accepted.
    if (!options.queueAllowlist?.allows(recipient.queue) || RESERVED_QUEUES.has(recipient.queue))
      throw new RecipientError(`queue "${recipient.queue}" is not in RECIPIENT_QUEUE_ALLOWLIST`);
    if (!options.queues) throw new Error("queue recipients need a queue sender (DeliveryOptions.queues)");
    const message = queueMessage({ requestId, recipient, request }, reply);
    if (!message)
      throw new RecipientError(`the queue message would be larger than ${QUEUE_MESSAGE_LIMIT} characters even without request and input`);
    if (options.cancel?.aborted) throw new RecipientError(CANCELLED);
    try {
      await options.queues.send(recipient.queue, message.text, options.cancel);
    } catch (error) {
      if (options.cancel?.aborted) throw new RecipientError(CANCELLED);
      throw new RecipientError(`queue "${recipient.queue}": ${(error as Error)?.message ?? String(error)}`);
    }
    return { value: null, acknowledged: true };
  },
  repliesLater() {
    return true;
  },
  dependency(recipient, { success }) {
    return {
      name: `PutMessage ${recipient.queue}`,
      type: "Azure queue",
      target: recipient.queue,
      data: `PutMessage ${recipient.queue}`,
      resultCode: success ? "Created" : "Failed",
      // The exporter takes a custom dependency type from db.system (and drops it from the properties).
      properties: { "db.system": "Azure queue" },
    };
  },
});
