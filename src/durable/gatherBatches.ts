/**
 * Large fan-outs: slices of `batchSize` recipients as sub-orchestrations, so no single history (and
 * its replay) grows past a slice. Each slice closes early only when the whole gather's policy is met
 * inside it; the parent merges slices as they finish and decides on the merged tally. Once it has
 * decided, the slices still running are closed (CLOSE_EVENT): their pending calls and retry waits
 * would otherwise keep the parent open (DTFx completes an orchestration only with no open task).
 */
import type * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { failureReason } from "../gather/failures";
import { batchInstanceId } from "../gather/instanceIds";
import { toleratedFailures } from "../gather/policy";
import { GatherTally } from "../gather/tally";
import type { CompletionPolicy, OrchestrationInput } from "../gather/types";
import { CompletionStream } from "./completionStream";
import { gatherLoop, type Gathered, type Orchestration, type RecipientGatherInput } from "./gatherRecipients";
import { FunctionNames } from "./names";

export function* gatherInBatches(
  context: OrchestrationContext,
  input: OrchestrationInput,
  batchSize: number,
  deadline: Date | null,
  closeKey: string,
): Orchestration<Gathered> {
  const instanceId = context.df.instanceId;
  const total = input.recipientCount ?? 0;
  const slices: { first: number; count: number }[] = [];
  for (let first = 0; first < total; first += batchSize) slices.push({ first, count: Math.min(batchSize, total - first) });
  const deadlineIso = deadline?.toISOString() ?? null;
  // Each batch gets the whole gather's bound: one whose own failures exceed it closes at once.
  const failuresAllowed = toleratedFailures(input.tolerance, total);

  const batches = slices.map((slice, i) =>
    context.df.callSubOrchestrator(
      FunctionNames.batchOrchestrator,
      {
        requestId: instanceId,
        run: input.run,
        first: slice.first,
        count: slice.count,
        ...sliceCompletion(input.completion, slice.count),
        ...(failuresAllowed !== undefined ? { failuresAllowed } : {}),
        aggregate: input.aggregate,
        retry: input.retry,
        deadline: deadlineIso,
        closeKey,
        closable: true,
      } satisfies RecipientGatherInput,
      batchInstanceId(instanceId, input.batchIdPrefix, i),
    ),
  );
  const indexOf = new Map<df.Task, number>(batches.map((task, i) => [task, i]));
  const tally = new GatherTally(total, { ...input.completion, failuresAllowed }, input.aggregate);
  const stream = new CompletionStream(context, batches);

  const decision = yield* gatherLoop(context, stream, tally, deadlineIso, (task) => {
    const batch = indexOf.get(task)!;
    if (task.isFaulted) {
      // A slice that failed internally: its recipients count as failed, the gather goes on.
      const reason = failureReason(task.result);
      for (let j = 0; j < slices[batch].count; j++) tally.fail(slices[batch].first + j, `batch failed: ${reason}`);
      return "recorded";
    }
    const output = task.result as Gathered;
    output.outcomes.forEach((outcome, j) => {
      // A slice closed early because the whole policy was met inside it; its stragglers stay open
      // here until the merged decision closes them.
      if (outcome.status !== "abandoned") tally.settle(slices[batch].first + j, outcome, output.facts[j] ?? undefined);
    });
    return "recorded";
  });
  const running = batches.flatMap((task, i) =>
    task.isCompleted || task.isFaulted ? [] : [batchInstanceId(instanceId, input.batchIdPrefix, i)],
  );
  if (running.length > 0) yield context.df.callActivity(FunctionNames.closeBatches, { instanceIds: running });
  return { decision, ...tally.close(decision), plan: tally.plan() };
}

/** A slice stops early only when the whole gather's policy is already met inside it. */
function sliceCompletion(policy: CompletionPolicy, sliceSize: number): { completion: CompletionPolicy; withinSlice?: boolean } {
  if (policy.mode === "quorum" && (policy.quorum ?? 1) > sliceSize)
    return { completion: { mode: "all", agree: false, timeoutMs: policy.timeoutMs } };
  return { completion: policy, withinSlice: true };
}
