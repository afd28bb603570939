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
 * Counts an auction answer, its facts computed here from the value, never taken from the event: anyone
 * holding sendEventPostUri could raise any event. An answer raised straight at the instance (`value`
 * given) is held to the rules of POST …/responses (MAX_RESPONSE_BYTES, nesting, finite numbers) and stored,
 * and counts only if it is the responder's first. An answer the HTTP routes stored already (no `value`) is
 * read back: a responder with no stored answer does not count.
 */
export async function storeAuctionAnswer(input: {
  run: RunRef;
  responder: string;
  value?: unknown;
  facts: FactSpec;
}): Promise<StoredOrRejected> {
  const payloads = new RunPayloads(getPayloadStore(), input.run);
  if (input.value === undefined) {
    // An event that names a responder without a stored answer (raised by anyone holding the event URL) is no answer.
    const [read] = await payloads.readAuctionAnswers([input.responder]);
    if (read.error)
      return { rejected: `no stored answer of ${input.responder}: an event without a value counts only after POST …/answers` };
    return { facts: answerFacts(read.answer.value, input.facts) };
  }
  const { maxResponseBytes } = readLimits();
  const value = input.value as Json;
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
  if (bytes > maxResponseBytes) return { rejected: `answer larger than ${maxResponseBytes} bytes (MAX_RESPONSE_BYTES)` };
  const problem = findJsonProblem(value);
  if (problem) return { rejected: problem.message };
  const stored = await payloads.storeAuctionAnswer(input.responder, { recipientId: input.responder, value });
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
