import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import { errorBody, summarize } from "../gather/errors";
import { answerFacts } from "../gather/facts";
import { RunPayloads } from "../gather/runPayloads";
import type { OrchestrationInput } from "../gather/types";
import { getPayloadStore } from "../payload";
import { readLimits } from "../gather/limits";
import { validateAuctionAnswer } from "../gather/schema";
import { isActive } from "../durable/client";
import { FunctionNames, RESPONSE_EVENT } from "../durable/names";
import { refuseAnswer } from "../http/answers";
import { readJsonBody } from "../http/body";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";

export async function submitResponse(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const limits = readLimits();
  const read = await readJsonBody(request, limits.maxResponseBytes, "MAX_RESPONSE_BYTES");
  if (!read.ok) return read.response;
  const answer = validateAuctionAnswer(read.body);
  if (!answer.ok) return jsonResponse(400, errorBody("invalid_request", summarize(answer.details), answer.details));

  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const { id, client, status } = gather;
  const refused = refuseAnswer(
    id,
    { input: status.input, customStatus: status.customStatus, active: isActive(status), runtimeStatus: String(status.runtimeStatus) },
    limits.maxRecipients,
  );
  if (refused) return refused;
  // The answer goes to the payload store (a responder's first answer wins); the event carries its facts.
  const input = status.input as OrchestrationInput;
  const { responder, value } = answer.value;
  const stored = await new RunPayloads(getPayloadStore(), input.run).storeAuctionAnswer(responder, { recipientId: responder, value });
  if (!stored.created && !stored.identical) {
    return jsonResponse(202, { id, responder, accepted: false, reason: "the responder answered already: the first answer wins" });
  }
  const facts = answerFacts(value, { agree: input.completion.agree, aggregate: input.aggregate });
  await client.raiseEvent(id, RESPONSE_EVENT, { responder, facts });
  return jsonResponse(202, { id, responder, accepted: true });
}

gatherApi(FunctionNames.submitResponse, "POST", "scatter-gather/{id}/responses", submitResponse);
