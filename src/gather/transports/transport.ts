/**
 * What a recipient transport is (one module each beside this file, listed in index.ts): the fields a
 * request gives for it (a zod fragment), how they are normalized, how the request is delivered, and
 * what its dependency looks like in Application Insights.
 */
import type { z } from "zod";
import type { QueueAllowlist, UrlAllowlist } from "../allowlist";
import type { Json } from "../spec";

/** A failed attempt, with a short reason; the orchestrator decides about retries. */
export class RecipientError extends Error {
  override readonly name = "RecipientError";
}

/** The HTTP status a failure reason starts with (`HTTP 503 …`), or undefined when there was no answer. */
export function httpStatusOf(reason: string | undefined): number | undefined {
  const status = /^HTTP (\d{3})\b/.exec(reason ?? "")?.[1];
  return status ? Number(status) : undefined;
}

export const CANCELLED = "cancelled: the gather closed before this call finished";

/** What every recipient has, whatever its transport. */
export interface RecipientBase {
  id: string;
  /** `recipients[i].input`: this recipient's own part of the work, as given (null kept); absent when not given. */
  input?: Json;
}

/**
 * How a recipient that answers later (repliesLater) answers: what its delivery carries. Made in the activity,
 * never in orchestrator code, so the token never enters history (http/answerTokens.ts).
 */
export interface ReplyChannel {
  /** POST `{ value }` or `{ error }` here: the answers route with this recipient's token. */
  respondUrl: string;
  /** The recipient's token alone (a queue reply carries it). */
  token: string;
  /** GET here for the request (what a queue message too large to carry the request carries instead). */
  requestUrl: string;
}

/** One attempt to deliver the gather's request to one recipient. */
export interface Delivery<R = { id: string }> {
  requestId: string;
  recipient: R;
  request: Json;
  /** For a recipient that replies later: where and how. */
  reply?: ReplyChannel;
}

export interface DeliveryOptions {
  maxResponseBytes: number;
  allowlist: UrlAllowlist;
  /** For simulations; injectable so tests can be exact. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborted when the gather closed meanwhile (see closing.ts): the call ends at once. */
  cancel?: AbortSignal;
  /** RECIPIENT_QUEUE_ALLOWLIST, checked again at delivery (none: every queue refused). */
  queueAllowlist?: QueueAllowlist;
  /** Puts messages on the app's storage queues (queue recipients); injected, so the domain never imports the SDK. */
  queues?: QueueSender;
}

/** Puts messages on queues of the app's storage account (src/queues/ implements it with @azure/storage-queue). */
export interface QueueSender {
  /**
   * Puts `text` (already encoded as the reader expects) on `queue`. Never creates `queue`; throws an Error whose
   * message says what went wrong (a missing queue, a refused request) when the message was not put.
   */
  send(queue: string, text: string, signal?: AbortSignal): Promise<void>;
}

/**
 * An answer as a transport received it: the value, and the UTF-8 JSON bytes it came as when they can be
 * stored as they are (one line), so a 64 KB answer is neither serialized nor encoded again to be stored.
 */
export interface ReceivedAnswer {
  value: Json;
  json?: Uint8Array;
  /** A delivery the recipient took (value null): its answer comes later, as a reply; the gather waits without a worker. */
  acknowledged?: true;
  /** The 2xx status of an HTTP answer whose body was not wanted (a close event's delivery). */
  status?: number;
}

/** What validation offers a transport while it normalizes one recipient. */
export interface NormalizeContext {
  /** Reports a problem at a path (`recipients[2].url`). */
  problem(path: string, message: string): void;
  /** Reports a URL whose origin RECIPIENT_URL_ALLOWLIST does not allow. */
  checkUrl(path: string, url: string): void;
  /** Reports a queue name RECIPIENT_QUEUE_ALLOWLIST does not allow. */
  checkQueue(path: string, name: string): void;
}

/** One recipient call as an Application Insights dependency (telemetry.ts adds the common properties). */
export interface RecipientDependency {
  name: string;
  /** dependencyTypeName. */
  type: string;
  target: string;
  data: string;
  resultCode: string | number;
  /** Properties the exporter reads (http.method, db.system). */
  properties: Record<string, string>;
}

export interface RecipientTransport<R extends { id: string }, F extends z.ZodRawShape = z.ZodRawShape> {
  /** The discriminant (transportOf in index.ts). */
  readonly name: string;
  /** The field whose presence makes a recipient one of this transport's (`url`, `simulate`). */
  readonly marker: keyof F & string;
  /** How messages name these recipients: "applies to URL recipients only". */
  readonly label: string;
  /** This transport's fields of a recipient object, each optional (the marker tells the transports apart). */
  readonly fields: F;
  /** The normalized recipient (defaults filled in) from its parsed fields; problems go to `context`. */
  normalize(raw: { id: string } & z.infer<z.ZodObject<F>>, at: string, context: NormalizeContext): R;
  /** One attempt: the answer (or, for a recipient that replies later, its acknowledgement), or a RecipientError. */
  deliver(delivery: Delivery<R>, options: DeliveryOptions): Promise<ReceivedAnswer>;
  /** Whether this recipient answers later, to its ReplyChannel, instead of in its delivery's response. */
  repliesLater?(recipient: R): boolean;
  /** The dependency recorded for one attempt. */
  dependency(recipient: R, outcome: { success: boolean; error?: string }): RecipientDependency;
  /** The origin (scheme, host, port) the calls go to, for concurrency.perOrigin; none: the transport has no origin. */
  origin?(recipient: R): string | undefined;
}

/** Identity, for inference: `defineTransport({ ... })` checks the module against RecipientTransport. */
export function defineTransport<R extends { id: string }, F extends z.ZodRawShape>(
  transport: RecipientTransport<R, F>,
): RecipientTransport<R, F> {
  return transport;
}
