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
import { isRecipientToken, readReply } from "../gather/replies";
import { readJsonBody } from "../http/body";
import { closedFor, findReplySender, REPLY_TOO_LATE, takeReply } from "../http/replies";

/**
 * POST /api/scatter-gather/{id}/answers?token=…: the URL bidders, callback recipients and queue recipients get
 * as `respondUrl` (anonymous: they hold no key). A recipient token (`<index>.<mac>`) is a reply (http/replies.ts);
 * any other token an auction answer. The token is checked first (answerTokens.ts): an unknown id, another gather's or another run's
 * token, or none at all is 401 and reveals nothing. The rest is the operators' route (submitResponse).
 */
export async function submitAnswer(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id;
  const token = request.query.get(TOKEN_PARAMETER);
  if (!isInstanceId(id) || !token) return unauthorized();
  const client = df.getClient(context);
  if (isRecipientToken(token)) return submitReply(request, client, id, token);
  const status = await findStatus(client, id, true);
  const run = (status?.input as Partial<OrchestrationInput> | null | undefined)?.run;
  if (!status || !run || !tokenMatches(await answerTokenKey(getPayloadStore), { instanceId: id, runId: run.runId }, token))
    return unauthorized();
  const limits = readLimits();
  const answer = await readAuctionAnswer(request, limits);
  if (!answer.ok) return answer.response;
  return acceptAuctionAnswer({ id, client, status }, answer.value, limits);
}

/** A callback or queue recipient's reply: 401 (token, first), 410, 413/415/400 (body), 409 (a second reply), 202. */
async function submitReply(request: HttpRequest, client: df.DurableClient, id: string, token: string): Promise<HttpResponseInit> {
  const sender = await findReplySender(client, id, token);
  if (!sender) return unauthorized();
  const closed = closedFor(sender);
  if (closed) return jsonResponse(410, errorBody("gone", `${closed}: ${REPLY_TOO_LATE}`));
  const read = await readJsonBody(request, readLimits().maxResponseBytes, "MAX_RESPONSE_BYTES");
  if (!read.ok) return read.response;
  const body = readReply(read.body);
  if (!body.ok) return jsonResponse(400, errorBody("invalid_request", body.message, [{ path: "", message: body.message }]));
  const verdict = await takeReply(client, sender, body.reply);
  switch (verdict.kind) {
    case "accepted":
      return jsonResponse(202, { id, recipientId: sender.recipientId, accepted: true });
    case "duplicate":
      return jsonResponse(409, errorBody("conflict", `recipient ${sender.recipientId} has replied already: the first reply stands`));
    case "closed":
      return jsonResponse(410, errorBody("gone", verdict.message));
  }
}

function unauthorized(): HttpResponseInit {
  return jsonResponse(401, errorBody("unauthorized", `the answer URL's ${TOKEN_PARAMETER} is missing or does not belong to this gather`));
}

gatherApi(FunctionNames.submitAnswer, "POST", "scatter-gather/{id}/answers", submitAnswer, "anonymous");
