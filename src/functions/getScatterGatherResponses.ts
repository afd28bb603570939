import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import { FunctionNames } from "../durable/names";
import { errorBody } from "../gather/errors";
import { parsePageQuery, responsesPage, type ResponseEntry } from "../gather/responsesPage";
import { RunPayloads } from "../gather/runPayloads";
import type { OrchestrationInput } from "../gather/types";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";
import { getPayloadStore } from "../payload";

/**
 * The responses of a gather, page by page, in recipient-list (auction: arrival) order. Once the gather
 * has its result, from the result document; while it runs (or if it stopped without one), the answers
 * stored so far, every other recipient `pending`. Values come from the stored answers of the page only.
 */
async function getScatterGatherResponses(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const query = parsePageQuery(request.query);
  if (!query.ok) return jsonResponse(400, errorBody("invalid_request", query.message));
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const input = gather.status.input as OrchestrationInput;
  const payloads = new RunPayloads(getPayloadStore(), input.run);
  const byResponder = input.auction !== undefined;
  const entries = await currentEntries(payloads, byResponder);
  const page = await responsesPage(entries, query.value, input.responsesUri, (entry) =>
    byResponder ? payloads.auctionAnswer(entry.recipientId) : entry.answer ? payloads.answer(entry.answer) : Promise.resolve(undefined),
  );
  return jsonResponse(200, page);
}

async function currentEntries(payloads: RunPayloads, byResponder: boolean): Promise<ResponseEntry[]> {
  const result = await payloads.result();
  if (result) return result.outcomes.map((outcome, index) => ({ index, ...outcome }));
  if (byResponder) return (await payloads.auctionResponders()).map((recipientId, index) => ({ index, recipientId, status: "succeeded" }));
  const [recipients, stored] = await Promise.all([payloads.recipients(), payloads.storedAnswers()]);
  return recipients.map((r, index) => {
    const answer = stored.get(index);
    return answer ? { index, recipientId: r.id, status: "succeeded", answer } : { index, recipientId: r.id, status: "pending" };
  });
}

gatherApi(FunctionNames.getScatterGatherResponses, "GET", "scatter-gather/{id}/responses", getScatterGatherResponses);
