import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { findStatus } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { errorBody } from "../gather/errors";
import { isInstanceId } from "../gather/instanceIds";
import { readLimits } from "../gather/limits";
import type { OrchestrationInput } from "../gather/types";
import { acceptAuctionAnswer, readAuctionAnswer } from "../http/answers";
import { answerTokenKey, TOKEN_PARAMETER, tokenMatches } from "../http/answerTokens";
import { gatherApi } from "../http/register";
import { jsonResponse } from "../http/responses";
import { getPayloadStore } from "../payload";

/**
 * POST /api/scatter-gather/{id}/answers?token=…: the URL bidders get as `respondUrl` (anonymous: they hold
 * no key). The token is checked first (answerTokens.ts): an unknown id, another gather's or another run's
 * token, or none at all is 401 and reveals nothing. The rest is the operators' route (submitResponse).
 */
export async function submitAnswer(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id;
  const token = request.query.get(TOKEN_PARAMETER);
  if (!isInstanceId(id) || !token) return unauthorized();
  const client = df.getClient(context);
  const status = await findStatus(client, id, true);
  const run = (status?.input as Partial<OrchestrationInput> | null | undefined)?.run;
  if (!status || !run || !tokenMatches(await answerTokenKey(getPayloadStore), { instanceId: id, runId: run.runId }, token))
    return unauthorized();
  const limits = readLimits();
  const answer = await readAuctionAnswer(request, limits);
  if (!answer.ok) return answer.response;
  return acceptAuctionAnswer({ id, client, status }, answer.value, limits);
}

function unauthorized(): HttpResponseInit {
  return jsonResponse(401, errorBody("unauthorized", `the answer URL's ${TOKEN_PARAMETER} is missing or does not belong to this gather`));
}

gatherApi(FunctionNames.submitAnswer, "POST", "scatter-gather/{id}/answers", submitAnswer, "anonymous");
