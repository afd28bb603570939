/**
 * The scatter-gather orchestrations. They only make durable calls; every decision (is the gather
 * closed, and why; what each recipient's outcome is) comes from the pure domain in src/gather/.
 *
 * Deterministic by construction: time from context.df.currentUtcDateTime, no I/O, no randomness.
 */
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { succeededAnswers } from "../gather/aggregate";
import { failureReason } from "../gather/failures";
import { EqualValueCounter } from "../gather/equalValues";
import { atDeadline, decide, type Decision } from "../gather/policy";
import { validateAuctionAnswer } from "../gather/schema";
import { GatherTally } from "../gather/tally";
import type {
  Aggregate,
  CallRecipientOutput,
  CompletionPolicy,
  Counts,
  GatherProgress,
  GatherResult,
  Json,
  OrchestrationInput,
  Recipient,
  RecipientResponse,
  RetrySpec,
} from "../gather/types";
import { attemptsOf, CompletionStream } from "./completionStream";
import { FunctionNames, RESPONSE_EVENT } from "./names";

/** Input of one batch sub-orchestration (a slice of a large fan-out). */
export interface BatchInput {
  requestId: string;
  request: Json;
  recipients: Recipient[];
  completion: CompletionPolicy;
  retry?: RetrySpec;
  /** Absolute, shared by every batch: the parent's deadline. */
  deadline: string | null;
  /**
   * Names this execution of the gather for closing.ts (its calls end when it closes). Not the bare
   * instance id: a finished id may be started again, and its new calls must not count as closed.
   */
  closeKey?: string;
}

export interface BatchOutput {
  decision: Decision;
  responses: RecipientResponse[];
}

interface Gathered {
  decision: Decision;
  responses: RecipientResponse[];
  counts: Counts;
}

type Orchestration<T> = Generator<df.Task, T, unknown>;

export function* scatterGatherOrchestrator(context: OrchestrationContext): Orchestration<GatherResult> {
  const input = context.df.getInput() as OrchestrationInput & { fanoutBatchSize?: number };
  const instanceId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime;
  const deadline = input.completion.timeoutMs !== undefined ? new Date(startedAt.getTime() + input.completion.timeoutMs) : null;
  // One key per execution (replay-safe: the start time is the history's), see BatchInput.closeKey.
  const closeKey = `${instanceId}@${startedAt.toISOString()}`;

  let gathered: Gathered;
  if (input.auction) {
    gathered = yield* gatherAuction(context, input, deadline);
  } else {
    const recipients = input.recipients ?? [];
    const batchSize = input.fanoutBatchSize ?? Number.POSITIVE_INFINITY;
    gathered =
      recipients.length > batchSize
        ? yield* gatherInBatches(context, input, recipients, batchSize, deadline, closeKey)
        : yield* gatherRecipients(context, {
            requestId: instanceId,
            request: input.request,
            recipients,
            completion: input.completion,
            retry: input.retry,
            deadline: deadline?.toISOString() ?? null,
            closeKey,
          });
  }
  const closedAt = context.df.currentUtcDateTime;

  context.df.setCustomStatus(statusOf(gathered.counts, deadline, "aggregating"));
  const aggregate = (yield context.df.callActivity(FunctionNames.aggregateResponses, {
    // The activity marks this execution's gather closed so its stragglers stop.
    closeKey,
    spec: input.aggregate,
    answers: succeededAnswers(gathered.responses),
    // For telemetry, which the activity emits (never this orchestrator: replay-safe). Replayed values only.
    report: {
      instanceId,
      mode: input.completion.mode,
      auction: input.auction !== undefined,
      outcome: gathered.decision.outcome,
      closedBy: gathered.decision.closedBy,
      counts: gathered.counts,
      startedAt: startedAt.toISOString(),
      closedAt: closedAt.toISOString(),
      recipients: gathered.counts.total,
      latenciesMs: gathered.responses.flatMap((r) => (r.status === "succeeded" && r.durationMs !== undefined ? [r.durationMs] : [])),
    },
  })) as Aggregate;

  return {
    id: instanceId,
    outcome: gathered.decision.outcome,
    closedBy: gathered.decision.closedBy,
    startedAt: startedAt.toISOString(),
    closedAt: closedAt.toISOString(),
    counts: gathered.counts,
    responses: gathered.responses,
    aggregate,
  };
}

/** One slice of a large fan-out, gathered under the same policy and deadline as its parent. */
export function* scatterGatherBatch(context: OrchestrationContext): Orchestration<BatchOutput> {
  const input = context.df.getInput() as BatchInput;
  const { decision, responses } = yield* gatherRecipients(context, input);
  return { decision, responses };
}

/**
 * Calls every recipient once (one activity each, scheduled in a single yield), then takes answers
 * in completion order until the policy or the deadline closes the gather.
 */
function* gatherRecipients(context: OrchestrationContext, input: BatchInput): Orchestration<Gathered> {
  const { recipients, completion } = input;
  const deadline = input.deadline ? new Date(input.deadline) : null;
  const deadlineIso = input.deadline;
  const tally = new GatherTally(
    recipients.map((r) => r.id),
    completion,
  );
  const retryOptions = input.retry ? toRetryOptions(input.retry) : undefined;
  const calls = recipients.map((recipient) => {
    const callInput = { requestId: input.requestId, recipient, request: input.request, ...(input.closeKey ? { closeKey: input.closeKey } : {}) };
    return retryOptions
      ? context.df.callActivityWithRetry(FunctionNames.callRecipient, retryOptions, callInput)
      : context.df.callActivity(FunctionNames.callRecipient, callInput);
  });
  const indexOf = new Map<df.Task, number>(calls.map((task, i) => [task, i]));
  const timer = deadline ? context.df.createTimer(deadline) : undefined;
  const stream = new CompletionStream(context, timer ? [...calls, timer] : calls);

  context.df.setCustomStatus(tally.progress(deadlineIso));
  let decision = tally.decision();
  while (!decision) {
    const task = yield* stream.next();
    if (task === timer) {
      decision = tally.deadlineDecision();
      break;
    }
    const index = indexOf.get(task)!;
    const attempts = retryOptions ? attemptsOf(task) : 1;
    if (task.isFaulted) {
      tally.fail(index, failureReason(task.result), { attempts });
    } else {
      const answer = task.result as CallRecipientOutput;
      tally.succeed(index, answer.value, { attempts, durationMs: answer.durationMs });
    }
    context.df.setCustomStatus(tally.progress(deadlineIso));
    decision = tally.decision();
  }
  // An orchestration does not complete while a timer is pending.
  if (timer && !timer.isCompleted && !timer.isFaulted) timer.cancel();
  return { decision, ...tally.close(decision) };
}

/**
 * Large fan-outs: slices of `batchSize` recipients as sub-orchestrations, so no single history (and
 * its replay) grows past a slice. Each slice closes early only when the whole gather's policy is met
 * inside it; the parent merges slices as they finish and decides on the merged tally.
 */
function* gatherInBatches(
  context: OrchestrationContext,
  input: OrchestrationInput,
  recipients: Recipient[],
  batchSize: number,
  deadline: Date | null,
  closeKey: string,
): Orchestration<Gathered> {
  const instanceId = context.df.instanceId;
  const slices: Recipient[][] = [];
  for (let i = 0; i < recipients.length; i += batchSize) slices.push(recipients.slice(i, i + batchSize));
  const offsets = slices.map((_, i) => i * batchSize);

  const batches = slices.map((slice, i) =>
    context.df.callSubOrchestrator(
      FunctionNames.batchOrchestrator,
      {
        requestId: instanceId,
        request: input.request,
        recipients: slice,
        completion: sliceCompletion(input.completion, slice.length),
        retry: input.retry,
        deadline: deadline?.toISOString() ?? null,
        closeKey,
      } satisfies BatchInput,
      `${instanceId}:batch:${i}`,
    ),
  );
  const indexOf = new Map<df.Task, number>(batches.map((task, i) => [task, i]));
  const tally = new GatherTally(
    recipients.map((r) => r.id),
    input.completion,
  );
  const stream = new CompletionStream(context, batches);
  const deadlineIso = deadline?.toISOString() ?? null;

  context.df.setCustomStatus(tally.progress(deadlineIso));
  let decision = tally.decision();
  while (!decision) {
    const task = yield* stream.next();
    const batch = indexOf.get(task)!;
    if (task.isFaulted) {
      // A slice that failed internally: its recipients count as failed, the gather goes on.
      const reason = failureReason(task.result);
      slices[batch].forEach((_, j) => tally.fail(offsets[batch] + j, `batch failed: ${reason}`));
    } else {
      const output = task.result as BatchOutput;
      output.responses.forEach((response, j) => {
        // A slice closed early because the whole policy was met inside it; its stragglers stay open
        // here until the merged decision closes them.
        if (response.status !== "abandoned") tally.settle(offsets[batch] + j, response);
      });
    }
    context.df.setCustomStatus(tally.progress(deadlineIso));
    decision = tally.decision();
  }
  return { decision, ...tally.close(decision) };
}

/** A slice stops early only when the whole gather's policy is already met inside it. */
function sliceCompletion(policy: CompletionPolicy, sliceSize: number): CompletionPolicy {
  if (policy.mode === "quorum" && (policy.quorum ?? 1) > sliceSize) return { mode: "all", agree: false, timeoutMs: policy.timeoutMs };
  return { ...policy, withinSlice: true };
}

/**
 * Auction: the request is published to the notify URLs once, then answers are taken as `response`
 * events until the policy or the deadline closes the gather. Each wait pairs a new event task with
 * a new deadline timer (the previous one cancelled), so nothing is ever yielded twice.
 */
function* gatherAuction(context: OrchestrationContext, input: OrchestrationInput, deadline: Date | null): Orchestration<Gathered> {
  const auction = input.auction!;
  const instanceId = context.df.instanceId;
  if (!deadline) throw new Error("auction mode needs completion.timeoutMs");
  const deadlineIso = deadline.toISOString();

  const responses: RecipientResponse[] = [];
  const seen = new Set<string>();
  const agreement = new EqualValueCounter();
  const expected = auction.expected;
  const progress = (): GatherProgress => ({
    phase: "gathering",
    total: expected ?? responses.length,
    succeeded: responses.length,
    failed: 0,
    pending: expected !== undefined ? Math.max(0, expected - responses.length) : 0,
    deadline: deadlineIso,
  });
  const verdict = (): Decision | undefined =>
    decide(input.completion, {
      total: expected ?? responses.length,
      succeeded: responses.length,
      failed: 0,
      timedOut: 0,
      // Without `expected`, more answers may always come until the deadline.
      pending: expected !== undefined ? Math.max(0, expected - responses.length) : Number.MAX_SAFE_INTEGER,
      largestAgreement: agreement.largest,
    });

  context.df.setCustomStatus(progress());
  if (auction.notify.length > 0) {
    const payload = { requestId: instanceId, request: input.request, respondUrl: auction.respondUrl };
    // notifyResponder never throws: a failed notification is logged, the auction goes on.
    yield context.df.Task.all(auction.notify.map((url) => context.df.callActivity(FunctionNames.notifyResponder, { url, payload })));
  }
  let decision = verdict();
  while (!decision) {
    const answer = context.df.waitForExternalEvent(RESPONSE_EVENT);
    const timer = context.df.createTimer(deadline);
    const winner = yield context.df.Task.any([answer, timer]);
    if (winner === timer) {
      decision = atDeadline({ succeeded: responses.length });
      break;
    }
    timer.cancel();
    const parsed = validateAuctionAnswer(answer.result);
    // Malformed events (sendEventPostUri bypasses validation) and repeat answers change nothing.
    if (!parsed.ok || seen.has(parsed.value.responder)) continue;
    seen.add(parsed.value.responder);
    responses.push({ recipientId: parsed.value.responder, status: "succeeded", value: parsed.value.value });
    if (input.completion.agree) agreement.add(parsed.value.value);
    context.df.setCustomStatus(progress());
    decision = verdict();
  }
  const counts: Counts = { total: responses.length, succeeded: responses.length, failed: 0, timedOut: 0, abandoned: 0 };
  return { decision, responses, counts };
}

function toRetryOptions(retry: RetrySpec): df.RetryOptions {
  const options = new df.RetryOptions(retry.firstRetryIntervalMs, retry.maxAttempts);
  options.backoffCoefficient = retry.backoffCoefficient;
  if (retry.maxRetryIntervalMs !== undefined) options.maxRetryIntervalInMilliseconds = retry.maxRetryIntervalMs;
  return options;
}

function statusOf(counts: Counts, deadline: Date | null, phase: GatherProgress["phase"]): GatherProgress {
  return {
    phase,
    total: counts.total,
    succeeded: counts.succeeded,
    failed: counts.failed,
    pending: counts.total - counts.succeeded - counts.failed - counts.timedOut - counts.abandoned,
    deadline: deadline?.toISOString() ?? null,
  };
}
