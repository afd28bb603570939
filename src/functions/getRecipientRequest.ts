import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { FunctionNames } from "../durable/names";
import { errorBody } from "../gather/errors";
import { isRecipientToken } from "../gather/replies";
import { TOKEN_PARAMETER } from "../http/answerTokens";
import { gatherApi } from "../http/register";
import { closedFor, findReplySender, recipientRequest } from "../http/replies";
import { jsonResponse } from "../http/responses";

/**
 * GET /api/scatter-gather/{id}/request?token=…: a callback or queue recipient's `requestUrl` (anonymous: the
 * recipient token is the capability). What a queue message too large to carry the request points to:
 * `{ requestId, recipientId, request, input? }`. 401 for a missing or wrong token (checked first), 410 once the
 * gather has closed.
 */
export async function getRecipientRequest(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id;
  const token = request.query.get(TOKEN_PARAMETER);
  // findReplySender refuses an id that is not an instance id before any read.
  const sender = token && isRecipientToken(token) ? await findReplySender(df.getClient(context), id, token) : undefined;
  if (!sender)
    return jsonResponse(
      401,
      errorBody("unauthorized", `the request URL's ${TOKEN_PARAMETER} is missing or does not belong to this gather`),
    );
  const closed = closedFor(sender);
  if (closed) return jsonResponse(410, errorBody("gone", `${closed}: its request is no longer served`));
  return jsonResponse(200, await recipientRequest(sender));
}

gatherApi(FunctionNames.getRecipientRequest, "GET", "scatter-gather/{id}/request", getRecipientRequest, "anonymous");
