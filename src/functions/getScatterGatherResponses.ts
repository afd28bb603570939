import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { repliesLater } from "../gather/transports";
import { gatherApi } from "../http/register";
import { FunctionNames } from "../durable/names";
import { errorBody } from "../gather/errors";
import { parsePageQuery, responsesPage, type ResponseEntry } from "../gather/responsesPage";
import { RunPayloads, type AnswerRead } from "../gather/runPayloads";
import type { OrchestrationInput } from "../gather/types";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";
import { endedUnsettled } from "../http/progress";
import { getPayloadStore } from "../payload";

/**
 * The responses of a gather, page by page, in recipient-list (auction: arrival) order. Once the gather
 * has its result, from the result document; while it runs, the answers stored so far, every other recipient
 * `pending` (`abandoned` once it has stopped without a result: terminated, or failed). Values come from the stored answers of the page only,
 * read as the aggregation reads them (RunPayloads.readAnswers): one range read per answer group, not one
 * request per answer. A page holds at most `limit` entries and MAX_PAGE_BYTES of JSON (responsesPage.ts).
 * An answer that cannot be read is an entry with an `error` naming its blob, not a failed page: one lost
 * blob must not make every page that holds it (and the gather's other answers) unreadable.
 */
export async function getScatterGatherResponses(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const query = parsePageQuery(request.query);
  if (!query.ok) return jsonResponse(400, errorBody("invalid_request", query.message, [{ path: query.path, message: query.message }]));
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const input = gather.status.input as OrchestrationInput;
  const payloads = new RunPayloads(getPayloadStore(), input.run);
  const byResponder = input.auction !== undefined;
  const entries = settledAsEnded(await currentEntries(payloads, byResponder, input.redrive !== undefined), gather.status.runtimeStatus);
  const page = await responsesPage(entries, query.value, input.responsesUri, (succeeded) => readAnswers(payloads, byResponder, succeeded));
  return jsonResponse(200, page);
}

/** The stored answers of succeeded entries, in order: by responder (auctions), else by ref, group by group. */
async function readAnswers(
  payloads: RunPayloads,
  byResponder: boolean,
  succeeded: readonly ResponseEntry[],
): Promise<(AnswerRead | undefined)[]> {
  if (byResponder) return payloads.readAuctionAnswers(succeeded.map((e) => e.recipientId));
  const refs = succeeded.flatMap((e) => (e.answer ? [e.answer] : []));
  const reads = await payloads.readAnswers(refs);
  let next = 0;
  // An entry without a ref gets no read: the page says no stored answer is recorded for it.
  return succeeded.map((e) => (e.answer ? reads[next++] : undefined));
}

async function currentEntries(payloads: RunPayloads, byResponder: boolean, redrive: boolean): Promise<ResponseEntry[]> {
  const result = await payloads.result();
  if (result) return result.outcomes.map((outcome, index) => ({ index, ...outcome }));
  if (redrive) return redriveEntries(payloads);
  if (byResponder) return (await payloads.auctionResponders()).map((recipientId, index) => ({ index, recipientId, status: "succeeded" }));
  const [recipients, stored] = await Promise.all([payloads.recipients(), payloads.storedAnswers()]);
  return recipients.map((r, index) => {
    const answer = stored.get(index);
    if (answer) return { index, recipientId: r.id, status: "succeeded", answer };
    return { index, recipientId: r.id, status: "pending", ...(repliesLater(r) ? { waitingFor: "reply" as const } : {}) };
  });
}

/**
 * A gather that ended without its result (terminated, or failed) will settle nobody any more: those it had not
 * settled are abandoned, as its close event counts them, not pending.
 */
function settledAsEnded(entries: ResponseEntry[], runtimeStatus: unknown): ResponseEntry[] {
  if (!endedUnsettled(runtimeStatus)) return entries;
  return entries.map((entry) =>
    entry.status === "pending" ? { index: entry.index, recipientId: entry.recipientId, status: "abandoned" } : entry,
  );
}

/**
 * A redrive that runs: the earlier entries, each redriven one pending until this run has stored its answer, its
 * attempts counted across runs as the result will count them.
 */
async function redriveEntries(payloads: RunPayloads): Promise<ResponseEntry[]> {
  const [doc, stored, redriven] = await Promise.all([payloads.redrive(), payloads.storedAnswers(), payloads.recipients()]);
  const entries: ResponseEntry[] = doc.entries.map((entry, index) => ({ index, ...entry }));
  doc.indexes.forEach((index, i) => {
    const answer = stored.get(i);
    const { recipientId, attempts } = doc.entries[index];
    entries[index] = answer
      ? { index, recipientId, status: "succeeded", answer, ...(attempts ? { earlierAttempts: attempts } : {}) }
      : { index, recipientId, status: "pending", ...(repliesLater(redriven[i]) ? { waitingFor: "reply" as const } : {}) };
  });
  return entries;
}

gatherApi(FunctionNames.getScatterGatherResponses, "GET", "scatter-gather/{id}/responses", getScatterGatherResponses);
