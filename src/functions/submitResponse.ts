import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import { readLimits } from "../gather/limits";
import { acceptAuctionAnswer, readAuctionAnswer } from "../http/answers";
import { findGather } from "../http/gatherRoute";
import { FunctionNames } from "../durable/names";

/** The operators' route (a function key in Azure); bidders answer through respondUrl (submitAnswer). */
export async function submitResponse(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const limits = readLimits();
  const answer = await readAuctionAnswer(request, limits);
  if (!answer.ok) return answer.response;
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  return acceptAuctionAnswer(gather, answer.value, limits);
}

gatherApi(FunctionNames.submitResponse, "POST", "scatter-gather/{id}/responses", submitResponse);
