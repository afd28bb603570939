/**
 * The scatter-gather orchestrations. They only make durable calls; every decision (is the gather
 * closed, and why; what each recipient's outcome is) comes from the pure domain in src/gather/.
 * They hold references and answer facts, never the request or the answers (those are in the payload
 * store), so every durable payload stays bounded whatever the size of the user's data.
 *
 * Deterministic by construction: time from context.df.currentUtcDateTime, no I/O, no randomness.
 */
import type { OrchestrationContext } from "durable-functions";
import type { AggregationInput } from "../gather/aggregate";
import type { RedriveAgreementInput } from "../gather/redrive";
import { closeEvent } from "../gather/closeEvent";
import { packOutcomes } from "../gather/outcomes";
import { toleratedFailures } from "../gather/policy";
import { progressOf, type KeptOutcomes } from "../gather/tally";
import type { GatherResult, OrchestrationInput } from "../gather/types";
import { gatherAuction } from "./gatherAuction";
import { gatherInBatches } from "./gatherBatches";
import { gatherRecipients, type Gathered, type Orchestration, type RecipientGatherInput } from "./gatherRecipients";
import { FunctionNames } from "./names";
import { notifyClosed } from "./notifyClose";

export function* scatterGatherOrchestrator(context: OrchestrationContext): Orchestration<GatherResult> {
  const input = context.df.getInput() as OrchestrationInput;
  const instanceId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime;
  const deadline = input.completion.timeoutMs !== undefined ? new Date(startedAt.getTime() + input.completion.timeoutMs) : null;
  // One key per execution (replay-safe: the start time is the history's), see RecipientGatherInput.closeKey.
  const closeKey = `${instanceId}@${startedAt.toISOString()}`;

  const gathered = yield* gather(context, input, deadline, closeKey);
  const decision = gathered.decision!;
  const closedAt = context.df.currentUtcDateTime;

  context.df.setCustomStatus(progressOf(gathered.counts, deadline?.toISOString() ?? null, "aggregating"));
  const aggregation: AggregationInput = {
    // The activity marks this execution's gather closed so its stragglers stop.
    closeKey,
    run: input.run,
    spec: input.aggregate,
    plan: gathered.plan,
    outcomes: packOutcomes(gathered.outcomes),
    ...("arrivalChunks" in gathered ? { arrivalChunks: gathered.arrivalChunks as number } : {}),
    ...(input.redrive ? { redrives: input.redrive.redrives } : {}),
    summary: {
      id: instanceId,
      outcome: decision.outcome,
      closedBy: decision.closedBy,
      startedAt: startedAt.toISOString(),
      closedAt: closedAt.toISOString(),
      counts: gathered.counts,
      responsesUri: input.responsesUri,
    },
    // For telemetry, which the activity emits (never this orchestrator: replay-safe).
    report: { mode: input.completion.mode, auction: input.auction !== undefined },
  };
  const result = (yield context.df.callActivity(FunctionNames.aggregateResponses, aggregation)) as GatherResult;
  context.df.setCustomStatus(progressOf(gathered.counts, deadline?.toISOString() ?? null, "done"));
  if (!input.onClose) return result;
  // The result is written; the orchestration completes once the close event is delivered (or given up on).
  const event = closeEvent({
    id: instanceId,
    runId: input.run.runId,
    outcome: result.outcome,
    closedBy: result.closedBy,
    counts: result.counts,
    responsesUri: input.responsesUri,
    time: closedAt.toISOString(),
  });
  return { ...result, notification: yield* notifyClosed(context, { url: input.onClose.url, event }) };
}

/** One slice of a large fan-out, gathered under the same policy and deadline as its parent. */
export function* scatterGatherBatch(context: OrchestrationContext): Orchestration<Gathered> {
  return yield* gatherRecipients(context, context.df.getInput() as RecipientGatherInput);
}

function* gather(
  context: OrchestrationContext,
  input: OrchestrationInput,
  deadline: Date | null,
  closeKey: string,
): Orchestration<Gathered> {
  if (input.auction) {
    if (!deadline) throw new Error("auction mode needs completion.timeoutMs");
    return yield* gatherAuction(context, input, deadline);
  }
  const count = input.recipientCount ?? 0;
  const batchSize = input.fanoutBatchSize ?? Number.POSITIVE_INFINITY;
  const kept = yield* keptOutcomes(context, input);
  if (count > batchSize) return yield* gatherInBatches(context, input, batchSize, deadline, closeKey, kept);
  return yield* gatherRecipients(context, {
    requestId: context.df.instanceId,
    run: input.run,
    first: 0,
    count,
    completion: input.completion,
    failuresAllowed: toleratedFailures(input.tolerance, count),
    aggregate: input.aggregate,
    retry: input.retry,
    deadline: deadline?.toISOString() ?? null,
    closeKey,
    ...(input.replies ? { replies: true } : {}),
    ...(kept ? { kept } : {}),
    ...(input.concurrency ? { window: { ...input.concurrency, ...(input.origins ? { origins: input.origins } : {}) } } : {}),
  });
}

/**
 * A redrive's earlier outcomes that it keeps: their counts (in the input) and, for an agreement quorum, their
 * answers' digests by value, which an activity reads from the store (redriveAgreement).
 */
function* keptOutcomes(context: OrchestrationContext, input: OrchestrationInput): Orchestration<KeptOutcomes | undefined> {
  if (!input.redrive) return undefined;
  const { kept } = input.redrive;
  if (input.completion.mode !== "quorum" || !input.completion.agree) return kept;
  const request: RedriveAgreementInput = { run: input.run, quorum: input.completion.quorum ?? 1 };
  const agreement = (yield context.df.callActivity(FunctionNames.redriveAgreement, request)) as [string, number][];
  return { ...kept, agreement };
}
