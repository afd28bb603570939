/**
 * Large fan-outs: slices of `batchSize` recipients as sub-orchestrations, so no single history (and
 * its replay) grows past a slice. Each slice closes early only when the whole gather's policy is met
 * inside it; the parent merges slices as they finish and decides on the merged tally. Once it has
 * decided, the slices still running are closed (CLOSE_EVENT): their pending calls and retry waits
 * would otherwise keep the parent open (DTFx completes an orchestration only with no open task). The parent
 * then takes what each closed slice had recorded, so an answer a slice had is never lost to the close.
 *
 * With concurrency the parent runs at most `batchSlots` batches at once, slot j holding a fixed share of the
 * window (gather/window.ts slotShare: the shares add up to maxInFlight, and per origin to perOrigin), and starts
 * the next batch into the slot a finished batch frees, in the same episode, until the gather has decided or its
 * deadline has passed. A batch holds its slot until it ends, so at every moment the running batches' shares,
 * and with them their calls in flight, add up to at most the request's limits.
 */
import type * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { failureReason } from "../gather/failures";
import { batchInstanceId } from "../gather/instanceIds";
import { toleratedFailures } from "../gather/policy";
import { GatherTally, type KeptOutcomes } from "../gather/tally";
import type { CompletionPolicy, OrchestrationInput } from "../gather/types";
import { sliceOriginTable, slotShare } from "../gather/window";
import { CompletionStream } from "./completionStream";
import { gatherLoop, type Gathered, type Orchestration, type RecipientGatherInput, type Taken } from "./gatherRecipients";
import { FunctionNames } from "./names";

export function* gatherInBatches(
  context: OrchestrationContext,
  input: OrchestrationInput,
  batchSize: number,
  deadline: Date | null,
  closeKey: string,
  kept?: KeptOutcomes,
): Orchestration<Gathered> {
  const instanceId = context.df.instanceId;
  const total = input.recipientCount ?? 0;
  const slices: { first: number; count: number }[] = [];
  for (let first = 0; first < total; first += batchSize) slices.push({ first, count: Math.min(batchSize, total - first) });
  const deadlineIso = deadline?.toISOString() ?? null;
  // Each batch gets the whole gather's bound: one whose own failures exceed it closes at once.
  const failuresAllowed = toleratedFailures(input.tolerance, total);

  const concurrency = input.concurrency;
  const slots = concurrency ? batchSlots(input, slices.length) : slices.length;
  const batches: (df.Task | undefined)[] = slices.map(() => undefined);
  const indexOf = new Map<df.Task, number>();
  const slotOf = new Map<df.Task, number>();
  const stream = new CompletionStream(context);
  const start = (i: number, slot: number) => {
    const task = context.df.callSubOrchestrator(
      FunctionNames.batchOrchestrator,
      batchInput(input, slices[i], { requestId: instanceId, slot, slots, failuresAllowed, deadlineIso, closeKey }),
      batchInstanceId(instanceId, input.batchIdPrefix, i),
    );
    batches[i] = task;
    indexOf.set(task, i);
    slotOf.set(task, slot);
    stream.add(task);
  };
  let started = 0;
  let running = 0;
  for (; started < Math.min(slots, slices.length); started++, running++) start(started, started);
  // A redrive's batches gather under the policy alone; the parent counts the earlier outcomes it keeps.
  const tally = new GatherTally(total, { ...input.completion, failuresAllowed }, input.aggregate, {}, kept);
  /** With concurrency: a freed slot takes the next batch unless the gather has decided or its deadline passed. */
  const refill = (slot: number): Taken => {
    running--;
    if (started === slices.length || tally.decision()) return "recorded";
    if (!deadline || context.df.currentUtcDateTime < deadline) {
      start(started++, slot);
      running++;
      return "recorded";
    }
    // The deadline has passed: batches not started make no calls, and with none running the gather closes.
    return running === 0 ? { close: tally.deadlineDecision() } : "recorded";
  };

  /** A batch's outcomes into the whole gather's tally; a batch that failed internally fails its recipients. */
  const merge = (task: df.Task): void => {
    const batch = indexOf.get(task)!;
    if (task.isFaulted) {
      const reason = failureReason(task.result);
      for (let j = 0; j < slices[batch].count; j++) tally.fail(slices[batch].first + j, `batch failed: ${reason}`);
      return;
    }
    const output = task.result as Gathered;
    output.outcomes.forEach((outcome, j) => {
      // A batch that closed early (the whole policy met inside it, or closed by this parent) leaves its
      // stragglers open here: they end with the merged decision.
      if (outcome.status !== "abandoned") tally.settle(slices[batch].first + j, outcome, output.facts[j] ?? undefined);
    });
  };
  const decision = yield* gatherLoop(context, stream, tally, deadlineIso, (task) => {
    merge(task);
    return concurrency ? refill(slotOf.get(task)!) : "recorded";
  });
  // Batches never started (concurrency) have no instance: their recipients end abandoned or timedOut.
  const open = batches.flatMap((task, i) =>
    !task || task.isCompleted || task.isFaulted ? [] : [batchInstanceId(instanceId, input.batchIdPrefix, i)],
  );
  if (open.length > 0) {
    yield context.df.callActivity(FunctionNames.closeBatches, { instanceIds: open, closeKey });
    // Each closed batch hands back what it recorded before the close reached it: those recipients answered
    // (or failed) while the gather still ran for them, and the progress showed them. Only its pending ones end
    // abandoned, as in a gather without batches. A closed batch completes once its calls in flight have ended
    // (closeBatches ends those of its own process at once; DTFx completes no orchestration with an open task,
    // so the parent's own completion waited for them before too).
    while (stream.pending > 0) merge(yield* stream.next());
  }
  return { decision, ...tally.close(decision), plan: tally.plan() };
}

/** What batch `slice` runs under: the gather's policy for a slice, and with concurrency its slot's share of the window. */
function batchInput(
  input: OrchestrationInput,
  slice: { first: number; count: number },
  at: { requestId: string; slot: number; slots: number; failuresAllowed?: number; deadlineIso: string | null; closeKey: string },
): RecipientGatherInput {
  const concurrency = input.concurrency;
  // perOrigin applies to recipients with an origin, and there are some only when there is a table.
  const window = concurrency && {
    ...slotShare(input.origins ? concurrency : { maxInFlight: concurrency.maxInFlight }, at.slot, at.slots),
    ...(input.origins ? { origins: sliceOriginTable(input.origins, input.recipientCount ?? 0, slice.first, slice.count) } : {}),
  };
  return {
    requestId: at.requestId,
    run: input.run,
    first: slice.first,
    count: slice.count,
    ...sliceCompletion(input.completion, slice.count),
    ...(at.failuresAllowed !== undefined ? { failuresAllowed: at.failuresAllowed } : {}),
    aggregate: input.aggregate,
    retry: input.retry,
    deadline: at.deadlineIso,
    closeKey: at.closeKey,
    closable: true,
    ...(input.replies ? { replies: true } : {}),
    ...(window ? { window } : {}),
  };
}

/** Batches at once: the starter's plan, within what gives every slot a share of at least 1. */
function batchSlots(input: OrchestrationInput, batches: number): number {
  const { maxInFlight, perOrigin } = input.concurrency ?? {};
  const most = Math.min(batches, maxInFlight ?? batches, input.origins ? (perOrigin ?? batches) : batches);
  return Math.max(1, Math.min(input.batchSlots ?? most, most));
}

/**
 * A slice stops early only when the whole gather's policy is already met inside it. A slice too small to meet
 * the quorum gathers all its recipients, and still digests their answers when the quorum counts agreement: the
 * parent counts equal answers across slices from the facts each slice hands back.
 */
function sliceCompletion(policy: CompletionPolicy, sliceSize: number): { completion: CompletionPolicy; withinSlice?: boolean } {
  if (policy.mode === "quorum" && (policy.quorum ?? 1) > sliceSize)
    return { completion: { mode: "all", agree: policy.agree, timeoutMs: policy.timeoutMs } };
  return { completion: policy, withinSlice: true };
}
