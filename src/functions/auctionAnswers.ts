import * as df from "durable-functions";
import type { StoredAnswer as StoredOrRejected } from "../durable/gatherAuction";
import { FunctionNames } from "../durable/names";
import { answerFacts, type FactSpec } from "../gather/facts";
import { findJsonProblem } from "../gather/json";
import { readLimits } from "../gather/limits";
import { RunPayloads } from "../gather/runPayloads";
import type { Json, RunRef } from "../gather/types";
import { getPayloadStore } from "../payload";

/**
 * An auction answer raised straight at the instance (sendEventPostUri bypasses POST /responses): held
 * to the same rules (MAX_RESPONSE_BYTES, nesting, finite numbers), stored like any other answer, and
 * counted only if it is the responder's first.
 */
export async function storeAuctionAnswer(input: {
  run: RunRef;
  responder: string;
  value: unknown;
  facts: FactSpec;
}): Promise<StoredOrRejected> {
  const { maxResponseBytes } = readLimits();
  const value = input.value as Json;
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
  if (bytes > maxResponseBytes) return { rejected: `answer larger than ${maxResponseBytes} bytes (MAX_RESPONSE_BYTES)` };
  const problem = findJsonProblem(value);
  if (problem) return { rejected: problem.message };
  const stored = await new RunPayloads(getPayloadStore(), input.run).storeAuctionAnswer(input.responder, {
    recipientId: input.responder,
    value,
  });
  if (!stored.created && !stored.identical) return { rejected: "the responder answered already (first answer wins)" };
  return { facts: answerFacts(value, input.facts) };
}

/** A chunk of responder names in arrival order (the result and the responses route read them). */
export async function recordArrivals(input: { run: RunRef; chunk: number; responders: string[] }): Promise<{ stored: number }> {
  await new RunPayloads(getPayloadStore(), input.run).storeArrivals(input.chunk, input.responders);
  return { stored: input.responders.length };
}

df.app.activity(FunctionNames.storeAuctionAnswer, { handler: storeAuctionAnswer });
df.app.activity(FunctionNames.recordArrivals, { handler: recordArrivals });
