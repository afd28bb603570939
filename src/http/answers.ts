/**
 * Auction answers over HTTP, for the operators' route (POST …/{id}/responses, submitResponse) and the
 * bidders' token route (POST …/{id}/answers, submitAnswer) alike: which answers are admitted, from the
 * instance's status alone (only auctions take answers, only while running, at most MAX_RECIPIENTS of them),
 * and how one is taken (stored, a responder's first answer wins, its facts raised as the `response` event).
 */
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import type { DurableClient, DurableOrchestrationStatus } from "durable-functions";
import { isActive } from "../durable/client";
import { RESPONSE_EVENT } from "../durable/names";
import { errorBody, summarize } from "../gather/errors";
import type { Limits } from "../gather/limits";
import { RunPayloads } from "../gather/runPayloads";
import { validateAuctionAnswer } from "../gather/schema";
import type { AuctionAnswer, OrchestrationInput } from "../gather/types";
import { getPayloadStore } from "../payload";
import { readJsonBody } from "./body";
import { jsonResponse } from "./responses";

/** The body `{ responder, value }`, or the 4xx to answer (413 over MAX_RESPONSE_BYTES, 415, 400). */
export async function readAuctionAnswer(
  request: HttpRequest,
  limits: Limits,
): Promise<{ ok: true; value: AuctionAnswer } | { ok: false; response: HttpResponseInit }> {
  const read = await readJsonBody(request, limits.maxResponseBytes, "MAX_RESPONSE_BYTES");
  if (!read.ok) return read;
  const answer = validateAuctionAnswer(read.body);
  if (!answer.ok)
    return { ok: false, response: jsonResponse(400, errorBody("invalid_request", summarize(answer.details), answer.details)) };
  return answer;
}

/** Takes a valid answer for the gather: 202 (accepted or not: a responder's first answer wins), 409, 410. */
export async function acceptAuctionAnswer(
  gather: { id: string; client: DurableClient; status: DurableOrchestrationStatus },
  answer: AuctionAnswer,
  limits: Limits,
): Promise<HttpResponseInit> {
  const { id, client, status } = gather;
  const refused = refuseAnswer(
    id,
    { input: status.input, customStatus: status.customStatus, active: isActive(status), runtimeStatus: String(status.runtimeStatus) },
    limits.maxRecipients,
  );
  if (refused) return refused;
  // The answer goes to the payload store (a responder's first answer wins), then the event tells the gather.
  const input = status.input as OrchestrationInput;
  const { responder, value } = answer;
  const stored = await new RunPayloads(getPayloadStore(), input.run).storeAuctionAnswer(responder, { recipientId: responder, value });
  if (!stored.created && !stored.identical) {
    return jsonResponse(202, { id, responder, accepted: false, reason: "the responder answered already: the first answer wins" });
  }
  // The event names the responder only: the orchestrator has the stored answer's facts computed by an
  // activity, so an event raised by anyone else cannot claim facts (storeAuctionAnswer).
  await client.raiseEvent(id, RESPONSE_EVENT, { responder });
  return jsonResponse(202, { id, responder, accepted: true });
}

export interface InstanceFacts {
  /** The orchestration input (status read with showInput): it has `auction` only in auction mode. */
  input: unknown;
  customStatus: unknown;
  active: boolean;
  runtimeStatus: string;
}

/** Undefined when the answer may be raised, else the refusal. */
export function refuseAnswer(id: string, facts: InstanceFacts, maxRecipients: number): HttpResponseInit | undefined {
  if (isPlainObject(facts.input) && !("auction" in facts.input)) {
    return jsonResponse(
      409,
      errorBody("conflict", `scatter-gather ${id} is not an auction: it was started with recipients and takes no answers`),
    );
  }
  if (!facts.active)
    return jsonResponse(410, errorBody("gone", `scatter-gather ${id} is ${facts.runtimeStatus}: the answer came too late`));
  const held = isPlainObject(facts.customStatus) ? facts.customStatus.succeeded : undefined;
  if (typeof held === "number" && held >= maxRecipients) {
    return jsonResponse(
      409,
      errorBody(
        "conflict",
        `auction ${id} already holds ${held} answers, the most MAX_RECIPIENTS (${maxRecipients}) allows: no more are taken`,
      ),
    );
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
