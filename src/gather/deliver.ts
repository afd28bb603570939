/**
 * Delivering the request to one recipient (what callRecipient does), by the recipient's transport
 * (src/gather/transports/: an HTTP call, or a simulation); and auction notifications.
 * Every failure is a RecipientError with a short reason; the caller decides about retries.
 */
import { deliverTo, type Recipient } from "./transports";
import { sendJson } from "./transports/http";
import {
  CANCELLED,
  RecipientError,
  type Delivery as TransportDelivery,
  type DeliveryOptions,
  type ReceivedAnswer,
} from "./transports/transport";
import type { Json } from "./types";

export { RecipientError, type DeliveryOptions };
export type { ReplyChannel } from "./transports/transport";

/** One attempt to deliver the gather's request to one recipient. */
export type Delivery = TransportDelivery<Recipient>;

export async function deliver(input: Delivery, options: DeliveryOptions): Promise<ReceivedAnswer & { durationMs: number }> {
  if (options.cancel?.aborted) throw new RecipientError(CANCELLED);
  const started = performance.now();
  const answer = await deliverTo(input, options);
  return { ...answer, durationMs: Math.round(performance.now() - started) };
}

/** An auction notification: delivered once, any 2xx counts, the answer's body is not used. */
export async function notify(url: string, body: Json, options: DeliveryOptions & { timeoutMs?: number }): Promise<void> {
  await sendJson({ url, method: "POST", timeoutMs: options.timeoutMs ?? 10_000 }, JSON.stringify(body), options, false);
}
