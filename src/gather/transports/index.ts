/**
 * The recipient transports: the one list of them, and the one place a recipient's transport is told
 * apart (transportOf, by the field that marks it: `url`, `simulate`, `queue`). The request schema, delivery and
 * telemetry go through the functions here, never through a transport's fields.
 *
 * Adding a transport: a module beside this file (its zod fragment, normalization, delivery and
 * dependency, checked by defineTransport) and one entry in TRANSPORTS; Recipient follows from the list.
 * Recipients keep their request shape after validation (defaults filled in) and are stored so in
 * recipients.json: the marker field is the discriminant, so no stored list needs rewriting.
 */
import { z } from "zod";
import { optionalJson, recipientId } from "../fields";
import type { Json } from "../spec";
import { httpTransport } from "./http";
import { queueTransport } from "./queue";
import { simulatedTransport } from "./simulated";
import type { Delivery, DeliveryOptions, NormalizeContext, ReceivedAnswer, RecipientDependency, RecipientTransport } from "./transport";

/** Every transport, in the order their fields appear in the recipient schema (and its error list). */
export const TRANSPORTS = [httpTransport, simulatedTransport, queueTransport] as const;

type AnyTransport = (typeof TRANSPORTS)[number];
type RecipientOf<T> = T extends RecipientTransport<infer R, infer _F> ? R : never;
/** A normalized recipient: the union of every transport's recipient. */
export type Recipient = RecipientOf<AnyTransport>;

/** Fields of every recipient, whatever its transport. */
const COMMON_FIELDS = { id: recipientId, input: optionalJson };

function transportFields(): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = { ...COMMON_FIELDS };
  for (const transport of TRANSPORTS) {
    for (const [key, field] of Object.entries(transport.fields)) {
      // Two transports sharing a field name could not be told apart by their fields.
      if (key in shape) throw new Error(`recipient transport "${transport.name}": the field "${key}" is taken`);
      shape[key] = field;
    }
  }
  for (const key of Object.keys(COMMON_FIELDS)) delete shape[key];
  return shape;
}

/** A recipient as parsed, before normalization. */
type ParsedRecipient = { id: string } & Record<string, unknown>;

/** One recipient of the request body: the common fields and every transport's, each optional (see normalizeRecipient). */
export const recipientSchema: z.ZodType<ParsedRecipient> = z.strictObject(
  { ...COMMON_FIELDS, ...transportFields() },
  { error: "must be an object" },
);

/** The transport of a recipient (request shape, normalized or stored): the one whose marker it has. */
function transportOf(recipient: object): RecipientTransport<Recipient> | undefined {
  const found = TRANSPORTS.filter((t) => t.marker in recipient);
  return found.length === 1 ? (found[0] as unknown as RecipientTransport<Recipient>) : undefined;
}

function orList(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/**
 * A parsed recipient (recipientSchema) normalized by its transport, with the cross-field rules: exactly
 * one marker, no field of another transport. Problems go to `context`; undefined when there is no transport.
 */
export function normalizeRecipient(raw: ParsedRecipient, at: string, context: NormalizeContext): Recipient | undefined {
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  const transport = transportOf(present);
  if (!transport) {
    context.problem(at, `must have exactly one of ${orList(TRANSPORTS.map((t) => t.marker))}`);
    return undefined;
  }
  for (const other of TRANSPORTS) {
    if ((other as unknown) === transport) continue;
    for (const key of Object.keys(other.fields)) {
      if (key in present) context.problem(`${at}.${key}`, `applies to ${other.label} recipients only`);
    }
  }
  const recipient = transport.normalize(present as ParsedRecipient, at, context);
  // The common fields, kept as given (an input of null stays null: JSON drops only what is absent).
  return "input" in present ? { ...recipient, input: present.input as Json } : recipient;
}

/** One attempt to deliver the request to a recipient, by its transport. */
export function deliverTo(delivery: Delivery<Recipient>, options: DeliveryOptions): Promise<ReceivedAnswer> {
  return known(delivery.recipient).deliver(delivery, options);
}

/** Whether a recipient answers later, as a reply (callback and queue recipients), rather than in its call. */
export function repliesLater(recipient: Recipient): boolean {
  return known(recipient).repliesLater?.(recipient) ?? false;
}

/** The dependency one attempt is recorded as (telemetry.ts). */
export function recipientDependency(recipient: Recipient, outcome: { success: boolean; error?: string }): RecipientDependency {
  return known(recipient).dependency(recipient, outcome);
}

/** The URL origin a recipient's calls go to (concurrency.perOrigin); undefined for a simulated or queue one. */
export function originOf(recipient: Recipient): string | undefined {
  return known(recipient).origin?.(recipient);
}

function known(recipient: Recipient): RecipientTransport<Recipient> {
  const transport = transportOf(recipient);
  if (!transport) throw new Error(`recipient "${recipient.id}" has no known transport`);
  return transport;
}
