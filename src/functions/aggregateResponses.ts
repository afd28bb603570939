import * as df from "durable-functions";
import { readSucceeded, resolveAggregate, type AggregationInput, type AnswerSource } from "../gather/aggregate";
import { answerSource, redriveGathered } from "../gather/redriveResult";
import { markGatherClosed } from "../gather/closing";
import { readLimits } from "../gather/limits";
import { publicOutcome, unpackOutcomes, type RecipientOutcome } from "../gather/outcomes";
import { RunPayloads, type ResultDocument } from "../gather/runPayloads";
import type { GatherResult, Json, RecipientResponse } from "../gather/types";
import { FunctionNames } from "../durable/names";
import { getPayloadStore } from "../payload";
import { flushTelemetry, trackGatherCompleted } from "../telemetry";

/**
 * Writes the result document (every outcome with its recipient id) to the payload store and returns
 * the orchestration output: the summary, the aggregate, and the responses inline only while they fit
 * RESULT_INLINE_BYTES. It reads only the answers the output shows (group by group, RunPayloads.readAnswers):
 * never every answer. Store failures are retried inside the store (a body cut mid-way is read again).
 *
 * An answer the output needs that cannot be read (its blob lost, or shorter than its range) fails the
 * activity with an AnswerUnreadableError naming the blob and the range, and so the gather: the aggregate
 * and the inline responses are computed from those values, and the result has no way to say that one of
 * them is missing, so any result would be a wrong one (a `best` or `vote` value of null, a `collect`
 * missing a recipient) reported as complete. A result that shows no values (responses and `collect`
 * values over the inline budget, a `summary`) reads none and completes; the responses route then marks
 * the lost entries.
 *
 * Also records the gather's telemetry: emitting here (an activity) and never in the orchestrator is what
 * makes it replay-safe; a re-executed aggregateResponses would record the gather again (accepted).
 */
export type { AggregationInput };

export async function aggregateResponses(input: AggregationInput): Promise<GatherResult> {
  if (input.closeKey) markGatherClosed(input.closeKey);
  const limits = readLimits();
  const payloads = new RunPayloads(getPayloadStore(), input.run);
  const outcomes = unpackOutcomes(input.outcomes);
  const auction = input.arrivalChunks !== undefined;
  // A redrive run: the whole gather, its earlier runs' outcomes and answers included (gather/redriveResult.ts).
  const redrive = input.redrives !== undefined ? await redriveGathered(payloads, input.spec, outcomes) : undefined;
  const { entries, answers } = redrive ?? (await ownEntries(payloads, input, outcomes));
  const summary = redrive ? { ...input.summary, counts: redrive.counts, redrives: input.redrives } : input.summary;
  const aggregate = await resolveAggregate(redrive?.plan ?? input.plan, answers, limits.resultInlineBytes);
  const document: ResultDocument = { ...summary, aggregate, outcomes: entries, answersBy: auction ? "responder" : "index" };
  await payloads.storeResult(document);
  const responses = await inlineResponses(entries, answers, limits.resultInlineBytes);

  trackGatherCompleted({
    instanceId: input.summary.id,
    ...input.report,
    outcome: input.summary.outcome,
    closedBy: input.summary.closedBy,
    counts: summary.counts,
    startedAt: input.summary.startedAt,
    closedAt: input.summary.closedAt,
    recipients: summary.counts.total,
    latenciesMs: outcomes.flatMap((o) => (o.status === "succeeded" && o.durationMs !== undefined ? [o.durationMs] : [])),
  });
  // Sends the gather's event, its metrics and the recipients' dependencies now, in case the instance
  // is scaled in. Not awaited: the gather's completion does not wait for the ingestion endpoint.
  void flushTelemetry();
  return { ...summary, ...(responses ? { responses } : {}), aggregate };
}

/** The entries of this run alone (every gather but a redrive), with its answers by index or by responder. */
async function ownEntries(
  payloads: RunPayloads,
  input: AggregationInput,
  outcomes: RecipientOutcome[],
): Promise<{ entries: (RecipientOutcome & { recipientId: string })[]; answers: AnswerSource }> {
  const auction = input.arrivalChunks !== undefined;
  const ids = auction ? await payloads.arrivals(input.arrivalChunks ?? 0) : (await payloads.recipients()).map((r) => r.id);
  const entries = outcomes.map((o, i) => ({ recipientId: ids[i], ...o }));
  if (!auction) return { entries, answers: answerSource(payloads, entries) };
  const succeeded = outcomes.flatMap((o, i) => (o.status === "succeeded" ? [i] : []));
  return { entries, answers: { ids, succeeded, read: async (index) => payloads.auctionAnswer(ids[index]) } };
}

/** The responses with their values, or undefined once they would not fit in `budget` bytes. */
async function inlineResponses(
  entries: (RecipientOutcome & { recipientId: string })[],
  answers: AnswerSource,
  budget: number,
): Promise<RecipientResponse[] | undefined> {
  let bytes = Buffer.byteLength(JSON.stringify(entries.map(publicOutcome)), "utf8");
  // Answer refs give the stored sizes without a read: no read at all when the values cannot fit. A
  // stored answer is its value plus the recipient id and under 100 bytes of fields (a lower bound).
  const values = entries.reduce((sum, e) => sum + Math.max(0, (e.answer?.length ?? 0) - 100 - Buffer.byteLength(e.recipientId, "utf8")), 0);
  if (bytes + values > budget) return undefined;
  const read = new Map<number, unknown>();
  for await (const { index, answer } of readSucceeded(answers)) {
    const value = answer?.value ?? null;
    bytes += Buffer.byteLength(JSON.stringify(value), "utf8") + 10;
    if (bytes > budget) return undefined;
    read.set(index, value);
  }
  return entries.map((entry, index): RecipientResponse =>
    entry.status === "succeeded"
      ? { recipientId: entry.recipientId, status: "succeeded", value: (read.get(index) ?? null) as Json, ...rest(entry) }
      : publicOutcome(entry),
  );
}

function rest(entry: RecipientOutcome): { attempts?: number; durationMs?: number } {
  return {
    ...(entry.attempts !== undefined ? { attempts: entry.attempts } : {}),
    ...(entry.durationMs !== undefined ? { durationMs: entry.durationMs } : {}),
  };
}

df.app.activity(FunctionNames.aggregateResponses, { handler: aggregateResponses });
