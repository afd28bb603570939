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
import { toleratedFailures, type Decision, type GatherPolicy } from "../gather/policy";
import { GatherTally, type KeptOutcomes } from "../gather/tally";
import type { CensusBatchesInput, CloseBatchesInput, CompletionPolicy, OrchestrationInput } from "../gather/types";
import {
  censusDecision,
  censusDelayMs,
  confirmedByMerge,
  MAX_CENSUSES,
  needsCensus,
  VOTES_SHOWN,
  type BatchCounts,
  type CensusRead,
} from "../gather/census";
import { sliceOriginTable, slotShare } from "../gather/window";
import type { ConcurrencySpec } from "../gather/spec";
import { CompletionStream } from "./completionStream";
import { gatherLoop, type Gathered, type Orchestration, type RecipientGatherInput, type Taken } from "./gatherRecipients";
import { FunctionNames } from "./names";
import { ShareLender } from "./shareLender";

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
  const lender =
    concurrency && input.lendShares
      ? new ShareLender(context, stream, { requestId: instanceId, batchIdPrefix: input.batchIdPrefix, run: input.run })
      : undefined;
  const start = (i: number, slot: number) => {
    lender?.hold(i, batchShare(input, slot, slots));
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
  for (; started < Math.min(slots, slices.length); started++) start(started, started);
  // A redrive's batches gather under the policy alone; the parent counts the earlier outcomes it keeps.
  const tally = new GatherTally(total, { ...input.completion, failuresAllowed }, input.aggregate, {}, kept);
  /**
   * With concurrency: a freed slot takes the next batch unless the gather has decided (past its deadline it has); with
   * none left to start, the ended batch's share is lent to the running ones (shareLender.ts).
   */
  const refill = (ended: df.Task): Taken => {
    const batch = indexOf.get(ended)!;
    if (tally.decision()) return "recorded";
    if (started < slices.length) {
      lender?.forget(batch);
      start(started++, slotOf.get(ended)!);
    } else lender?.release(batch, runningBatches());
    return "recorded";
  };
  const runningBatches = () => batches.flatMap((task, i) => (task && !merged.has(task) ? [i] : []));

  const merged = new MergedBatches(tally, slices, indexOf);
  const merge = (task: df.Task) => merged.merge(task);
  // Cross-batch decisions (gather/census.ts): every censusMs the running batches' counts, until the gather closes.
  const policy = { ...input.completion, failuresAllowed };
  const census = censusFor(context, input, policy, tally, deadline, stream);
  const isMerged = (batch: number) => batches[batch] !== undefined && merged.has(batches[batch]!);
  // The parent's own deadline: at it the batches still running are closed and their calls ended, as a gather
  // without batches ends its calls at its deadline (each batch also closes itself at it, but cannot end its calls).
  const deadlineTimer = deadline ? context.df.createTimer(deadline) : undefined;
  if (deadlineTimer) stream.add(deadlineTimer);
  let atDeadline = false;
  census?.arm();
  const decided = yield* gatherLoop(context, stream, tally, deadlineIso, (task) => {
    if (lender?.owns(task)) {
      lender.take(task, runningBatches(), !tally.decision() && !(deadline && context.df.currentUtcDateTime >= deadline));
      return "waiting";
    }
    if (census?.owns(task)) return census.decide(task, policy, tally, isMerged);
    if (task !== deadlineTimer) merge(task);
    if (task === deadlineTimer || (deadline && context.df.currentUtcDateTime >= deadline)) {
      atDeadline = true;
      return { close: undefined }; // decided below, once the batches still running have handed back their outcomes
    }
    return concurrency ? refill(task) : "recorded";
  });
  if (deadlineTimer && !deadlineTimer.isCompleted) deadlineTimer.cancel();
  census?.stop();
  // Gathering has ended (decided, or the deadline): the status says so at once, so the batches' calls that read it
  // end (those waiting for a slot are refused as they start) without waiting for closeBatches, which the host may
  // queue behind those very calls. They end abandoned; the status route still sums the batches' counts meanwhile.
  context.df.setCustomStatus(tally.progress(deadlineIso, "aggregating"));
  yield* takeBack(context, stream, { requestId: instanceId, batchIdPrefix: input.batchIdPrefix, closeKey }, batches, indexOf, merged);
  const decision = finalDecision(atDeadline ? undefined : decided!, tally, policy, census?.decided ?? false);
  return {
    decision,
    ...tally.close(decision, atDeadline ? "timedOut" : undefined, (index) => merged.strays.get(index)),
    plan: tally.plan(),
  };
}

/**
 * Closes the batches still running, then takes back what each batch not merged yet recorded. Batches never started
 * (concurrency) have no instance: their recipients end abandoned or timedOut.
 */
function* takeBack(
  context: OrchestrationContext,
  stream: CompletionStream,
  ids: { requestId: string; batchIdPrefix?: string; closeKey: string },
  batches: readonly (df.Task | undefined)[],
  indexOf: ReadonlyMap<df.Task, number>,
  merged: MergedBatches,
): Orchestration<void> {
  const unmerged = batches.filter((task): task is df.Task => task !== undefined && !merged.has(task));
  const running = unmerged.filter((task) => !task.isCompleted && !task.isFaulted);
  if (running.length > 0) {
    const batches = running.map((task) => indexOf.get(task)!);
    const close: CloseBatchesInput = { ...ids, batches };
    yield context.df.callActivity(FunctionNames.closeBatches, close);
  }
  // Each batch not merged yet hands back what it recorded (one that ended in the deciding episode, or one closed
  // just now, before the close reached it): those recipients answered or failed while the gather still ran for
  // them, and the progress showed them; only their pending ones end abandoned (timedOut at the deadline), as in
  // a gather without batches. A closed batch completes once its calls in flight have ended: closeBatches ends
  // those of its own process at once (DTFx completes no orchestration with an open task).
  for (let left = unmerged.length; left > 0;) {
    const task = yield* stream.next();
    if (indexOf.has(task)) {
      merged.merge(task);
      left--;
    }
  }
}

/** The batches the parent has merged into its tally, and the attempts of the recipients they left open. */
class MergedBatches {
  /** Attempts of the recipients a closed batch left unsettled, for the parent's close to record. */
  readonly strays = new Map<number, number>();
  private readonly tasks = new Set<df.Task>();

  constructor(
    private readonly tally: GatherTally,
    private readonly slices: readonly { first: number; count: number }[],
    private readonly indexOf: ReadonlyMap<df.Task, number>,
  ) {}

  has(task: df.Task): boolean {
    return this.tasks.has(task);
  }

  merge(task: df.Task): void {
    this.tasks.add(task);
    mergeBatch(this.tally, this.slices[this.indexOf.get(task)!], task, this.strays);
  }
}

/** A batch's outcomes into the whole gather's tally; a batch that failed internally fails its recipients. */
function mergeBatch(tally: GatherTally, slice: { first: number; count: number }, task: df.Task, strays: Map<number, number>): void {
  if (task.isFaulted) {
    const reason = failureReason(task.result);
    for (let j = 0; j < slice.count; j++) tally.fail(slice.first + j, `batch failed: ${reason}`);
    return;
  }
  const output = task.result as Gathered;
  output.outcomes.forEach((outcome, j) => {
    // A batch that closed early (the whole policy met inside it, or closed by its parent) leaves its
    // stragglers open here: they end with the merged decision, with the attempts they made.
    if (outcome.status !== "abandoned") tally.settle(slice.first + j, outcome, output.facts[j] ?? undefined);
    else if (outcome.attempts) strays.set(slice.first + j, outcome.attempts);
  });
}

/**
 * The parent's census of its running batches: a timer (from `intervalMs`, backing off: census.ts), then a
 * censusBatches activity; its counts go to censusDecision. One at a time; stopped once the gather closes (a
 * census activity still running then just ends: DTFx waits for it, and nothing waits on it).
 */
class Census {
  /** The gather closed on a census's counts (confirmedByMerge then checks them against the merged outcomes). */
  decided = false;
  private timer: df.TimerTask | undefined;
  private read: df.Task | undefined;
  private stopped = false;
  private taken = 0;

  constructor(
    private readonly context: OrchestrationContext,
    private readonly input: OrchestrationInput,
    private readonly intervalMs: number,
    private readonly deadline: Date | null,
    private readonly stream: CompletionStream,
    /** An agreement quorum: the digests to ask the running batches about (the parent's leaders). */
    private readonly votes?: () => string[],
  ) {}

  owns(task: df.Task): boolean {
    return task === this.timer || task === this.read;
  }

  /** Arms the next census (backing off), unless MAX_CENSUSES are taken or it would come at or after the deadline. */
  arm(): void {
    const at = new Date(this.context.df.currentUtcDateTime.getTime() + censusDelayMs(this.intervalMs, this.taken));
    if (this.stopped || this.taken >= MAX_CENSUSES || (this.deadline && at >= this.deadline)) return;
    this.taken++;
    this.timer = this.context.df.createTimer(at);
    this.stream.add(this.timer);
  }

  /** The timer fired: the census is read. The read came back: its counts (none when it failed), and the next is armed. */
  take(task: df.Task): CensusRead | undefined {
    if (task === this.timer) {
      this.timer = undefined;
      const input: CensusBatchesInput = {
        requestId: this.context.df.instanceId,
        batchIdPrefix: this.input.batchIdPrefix,
        ...(this.votes ? { votes: this.votes() } : {}),
      };
      this.read = this.context.df.callActivity(FunctionNames.censusBatches, input);
      this.stream.add(this.read);
      return undefined;
    }
    this.read = undefined;
    this.arm();
    if (task.isFaulted) return undefined;
    // Counts only (a plain census, and every census before votes): an array of them.
    const read = task.result as BatchCounts[] | CensusRead;
    return Array.isArray(read) ? { batches: read } : read;
  }

  /** A census task settled: the gather closes if the counts it read decide (never after the deadline: its timer decides). */
  decide(task: df.Task, policy: GatherPolicy, tally: GatherTally, isMerged: (batch: number) => boolean): Taken {
    const counts = this.take(task);
    if (this.deadline && this.context.df.currentUtcDateTime >= this.deadline) return "waiting";
    const merged = { ...tally.policyCounts(), agreementOn: (digest: string) => tally.agreementOn(digest) };
    const decision = counts && censusDecision(policy, merged, counts, isMerged);
    if (decision) this.decided = true;
    return decision ? { close: decision } : "waiting";
  }

  stop(): void {
    this.stopped = true;
    if (this.timer && !this.timer.isCompleted) this.timer.cancel();
  }
}

/**
 * The gather's decision once every batch has handed back its outcomes: the one it closed on, or at the deadline
 * (`decided` undefined) a policy met by then (a batch meets a quorum larger than itself only as it ends, so the parent
 * may learn it now), else the deadline's; what is still pending was pending at the deadline: timedOut, and never a
 * reason to call a quorum unreachable. A census decision stands unless a batch it counted then failed internally
 * (rare): the quorum was not reached.
 */
function finalDecision(decided: Decision | undefined, tally: GatherTally, policy: GatherPolicy, byCensus: boolean): Decision {
  const met = decided ? undefined : tally.decision();
  const decision = decided ?? (met && met.closedBy !== "quorum-unreachable" ? met : tally.deadlineDecision());
  if (byCensus && !confirmedByMerge(decision, policy, tally.policyCounts())) return { closedBy: "quorum-unreachable", outcome: "failed" };
  return decision;
}

/** The census a gather of batches takes (census.ts needsCensus), with votes for an agreement quorum since censusVotes. */
function censusFor(
  context: OrchestrationContext,
  input: OrchestrationInput,
  policy: GatherPolicy,
  tally: GatherTally,
  deadline: Date | null,
  stream: CompletionStream,
): Census | undefined {
  const votes = input.censusVotes ? () => tally.agreementLeaders(VOTES_SHOWN).map(([digest]) => digest) : undefined;
  if (!input.censusMs || !needsCensus(policy, votes !== undefined)) return undefined;
  return new Census(context, input, input.censusMs, deadline, stream, votes);
}

/** What batch `slice` runs under: the gather's policy for a slice, and with concurrency its slot's share of the window. */
function batchInput(
  input: OrchestrationInput,
  slice: { first: number; count: number },
  at: { requestId: string; slot: number; slots: number; failuresAllowed?: number; deadlineIso: string | null; closeKey: string },
): RecipientGatherInput {
  const concurrency = input.concurrency;
  const window = concurrency && {
    ...batchShare(input, at.slot, at.slots),
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
    callsEndByStatus: true,
    ...(input.replies ? { replies: true } : {}),
    ...(window ? { window } : {}),
    ...(window && input.lendShares ? { borrows: true } : {}),
  };
}

/** Slot `slot`'s share of the window; perOrigin applies to recipients with an origin, and there are some only when there is a table. */
function batchShare(input: OrchestrationInput, slot: number, slots: number): ConcurrencySpec {
  const concurrency = input.concurrency ?? {};
  return slotShare(input.origins ? concurrency : { maxInFlight: concurrency.maxInFlight }, slot, slots);
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
