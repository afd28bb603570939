/**
 * Which answers POST /api/scatter-gather/{id}/responses admits, from the instance's status alone:
 * only auctions take answers, only while running, and at most MAX_RECIPIENTS of them.
 */
import type { HttpResponseInit } from "@azure/functions";
import { errorBody } from "../gather/errors";
import { jsonResponse } from "./responses";

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
