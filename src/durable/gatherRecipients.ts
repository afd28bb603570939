/**
 * One gather over called recipients: a whole gather, or one batch of a large fan-out. Every recipient
 * is called at once; answers are taken in completion order until the policy, the deadline or (for a
 * batch) the parent closes the gather.
 *
 * With a concurrency window (input.window, gather/window.ts) only what fits is scheduled: a slot refills
 * as a call settles, in the same episode, and nothing starts once the gather has closed or its deadline passed.
 *
 * Retries are the orchestrator's own, not callActivityWithRetry: a failed attempt with attempts left
 * waits on a durable timer that is cancelled when the gather closes. So a decided gather never waits
 * out a retry interval (DTFx completes an orchestration only when no task is open), and every action
 * is the orchestrator's, numbered by the host in list order (see completionStream.ts for why the
 * host's own retries inside a progressive gather end in a non-determinism failure).
 */
import type * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { failureReason } from "../gather/failures";
import type { Decision } from "../gather/policy";
import { isFinalFailure, nextRetry } from "../gather/retry";
import { GatherTally, progressOf, type KeptOutcomes } from "../gather/tally";
import { VOTES_SHOWN } from "../gather/census";
import { CallWindow, type WindowShare } from "../gather/window";
import { AwaitedReplies, parseReplyEvent } from "../gather/replies";
import type { AnswerFacts, FactSpec } from "../gather/facts";
import type { RecipientOutcome } from "../gather/outcomes";
import type { AggregatePlan } from "../gather/aggregation";
import type {
  AggregateSpec,
  CallRecipientInput,
  CallRecipientOutput,
  CloseBatchesInput,
  CompletionPolicy,
  Counts,
  GatherProgress,
  RetrySpec,
  RunRef,
} from "../gather/types";
import { CompletionStream } from "./completionStream";
import { CLOSE_EVENT, FunctionNames, REPLY_EVENT, SHARE_EVENT } from "./names";

export type Orchestration<T> = Generator<df.Task, T, unknown>;

/** Input of one gather over recipients; also the input of a batch sub-orchestration. */
export interface RecipientGatherInput {
  requestId: string;
  /** The run's payloads (request, recipient list, answers). */
  run: RunRef;
  /** This gather's recipients: indexes first .. first+count-1 of the stored list. */
  first: number;
  count: number;
  completion: CompletionPolicy;
  /** The whole gather's failure bound (tolerance), in a batch too: its own failures alone may exceed it. */
  failuresAllowed?: number;
  aggregate: AggregateSpec;
  retry?: RetrySpec;
  /** Absolute, shared by every batch: the parent's deadline. */
  deadline: string | null;
  /**
   * Names this execution of the gather for closing.ts (its calls end when it closes). Not the bare
   * instance id: a finished id may be started again, and its new calls must not count as closed.
   */
  closeKey?: string;
  /** Batches: the parent may close this gather early with the CLOSE_EVENT event. */
  closable?: boolean;
  /**
   * Batches started since 2026-12-07: a batch that decides inside itself leaves the ending of its calls to them (they
   * read its status). One started earlier ended them with an activity of its own (closeBatches) and waited for it:
   * it still does, so that its history replays after an upgrade.
   */
  callsEndByStatus?: boolean;
  /** Batches: close early only when the whole policy is met inside (policy.ts SliceOptions). */
  withinSlice?: boolean;
  /** Some recipients answer later (callback, queue): their replies come to this instance as REPLY_EVENT. */
  replies?: boolean;
  /** With concurrency: this gather's share of the window (a batch: its slot's) and its part of the origin table. */
  window?: WindowShare;
  /**
   * A windowed batch started since 2026-12-07: its parent may lend it more share (SHARE_EVENT) once no batch is left
   * to start, and its status shows its calls waiting for a slot. One started earlier waits for no such event, so
   * that its history replays.
   */
  borrows?: boolean;
  /** A redrive: the earlier outcomes it keeps, counted by the policy with this run's (GatherTally). */
  kept?: KeptOutcomes;
}

export interface Gathered {
  /** Undefined when the parent closed this batch: the parent has decided already. */
  decision: Decision | undefined;
  /** By index within this gather (index 0 = recipient `first`). */
  outcomes: RecipientOutcome[];
  /** The facts of each succeeded answer, null for the others (a batch hands them to its parent). */
  facts: (AnswerFacts | null)[];
  counts: Counts;
  plan: AggregatePlan;
}

interface Attempt {
  index: number;
  attempt: number;
}

export function* gatherRecipients(context: OrchestrationContext, input: RecipientGatherInput): Orchestration<Gathered> {
  const policy = { ...input.completion, failuresAllowed: input.failuresAllowed };
  const tally = new GatherTally(input.count, policy, input.aggregate, { withinSlice: input.withinSlice }, input.kept);
  const calls = new RecipientCalls(context, input, tally);
  const decision = yield* gatherLoop(context, calls.stream, tally, input.deadline, (task) => calls.take(task), calls.progress);
  calls.cancelTimers();
  const closed = tally.close(decision, undefined, (index) => calls.attemptsMade(index));
  // A batch takes no reply once its gathering ended, though it runs on until its calls in flight end (DTFx): its
  // status says so, the answers route refuses such a reply (410) rather than accept one nobody counts, and its
  // calls in flight read it and end within a second (closing.ts), in whatever process they run. Not an activity
  // that ends them: the host may queue it behind those very calls, and the batch would wait for it.
  if (input.closable) context.df.setCustomStatus({ ...progressOf(closed.counts, input.deadline, "done"), ...calls.votes() });
  if (input.closable && !input.callsEndByStatus && input.closeKey && decision && decision.closedBy !== "deadline")
    yield context.df.callActivity(FunctionNames.closeBatches, {
      requestId: input.requestId,
      batches: [],
      closeKey: `${input.closeKey}|${context.df.instanceId}`,
    } satisfies CloseBatchesInput);
  return { decision, ...closed, plan: tally.plan() };
}

/**
 * The tasks of one gather over recipients and what it does as each settles: its calls (attempts), their retry
 * waits, the deadline, the parent's close request, and the replies of recipients that answer later; with a
 * window, only what fits is scheduled and a slot refills as a call settles.
 */
class RecipientCalls {
  readonly stream: CompletionStream;
  /** Extra progress: recipients waiting for their reply, calls waiting for a slot (a batch that borrows), votes (a batch of an agreement quorum). */
  readonly progress: (() => Partial<GatherProgress>) | undefined;
  private readonly deadline: Date | null;
  private readonly factSpec: FactSpec;
  private readonly calls = new Map<df.Task, Attempt>();
  /** The last attempt each recipient was called with: what a recipient the close leaves unsettled has made. */
  private readonly tried = new Map<number, number>();
  private readonly retryWaits = new Map<df.TimerTask, Attempt>();
  private readonly window: CallWindow | undefined;
  /** Callback and queue recipients: their answers come as REPLY_EVENT, one wait at a time. */
  private readonly replies: AwaitedReplies | undefined;
  private replyWait: df.Task | undefined;
  private readonly deadlineTimer: df.TimerTask | undefined;
  private readonly closeRequest: df.Task | undefined;
  /** A windowed batch: more share its parent lends it, one loan at a time, each taken once (by its number). */
  private loan: df.Task | undefined;
  private readonly loansTaken = new Set<number>();

  constructor(
    private readonly context: OrchestrationContext,
    private readonly input: RecipientGatherInput,
    private readonly tally: GatherTally,
  ) {
    this.stream = new CompletionStream(context);
    this.deadline = input.deadline ? new Date(input.deadline) : null;
    this.factSpec = { agree: input.completion.agree, aggregate: input.aggregate };
    this.replies = input.replies ? new AwaitedReplies() : undefined;
    const replies = this.replies;
    this.window = input.window ? new CallWindow(input.count, input.window) : undefined;
    const window = input.borrows ? this.window : undefined;
    this.progress =
      replies || window || this.showsVotes
        ? () => ({
            ...(replies ? { awaitingReply: replies.waiting } : {}),
            ...(window ? { waiting: window.waiting } : {}),
            ...this.votes(),
          })
        : undefined;
    if (this.window) this.fill();
    else for (let index = 0; index < input.count; index++) this.call({ index, attempt: 1 });
    this.deadlineTimer = this.deadline ? context.df.createTimer(this.deadline) : undefined;
    this.closeRequest = input.closable ? context.df.waitForExternalEvent(CLOSE_EVENT) : undefined;
    for (const task of [this.deadlineTimer, this.closeRequest]) if (task) this.stream.add(task);
    if (replies) this.waitForReply();
    if (window) this.waitForLoan();
  }

  /** What the gather does with a task the stream handed back; the window refills unless the gather closed. */
  take(task: df.Task): Taken {
    const taken = this.settle(task);
    if (this.window && typeof taken !== "object" && !this.tally.decision()) this.fill();
    return taken;
  }

  /** A batch of an agreement quorum shows its leading votes in its status, for its parent's census (census.ts). */
  votes(): { votes?: [string, number][] } {
    return this.showsVotes ? { votes: this.tally.agreementLeaders(VOTES_SHOWN) } : {};
  }

  private get showsVotes(): boolean {
    return Boolean(this.input.closable && this.input.completion.agree);
  }

  /**
   * The attempts recipient `index` has made, for the close to record on one it leaves unsettled (abandoned or
   * timed out): one in flight counts, as it may have reached its recipient (API.md: attempts add up across runs).
   */
  attemptsMade(index: number): number | undefined {
    return this.tried.get(index);
  }

  /** An orchestration does not complete while a timer is pending: cancel the deadline and every retry wait. */
  cancelTimers(): void {
    for (const timer of [this.deadlineTimer, ...this.retryWaits.keys()]) {
      if (timer && !timer.isCompleted && !timer.isFaulted) timer.cancel();
    }
  }

  private now(): number {
    return this.context.df.currentUtcDateTime.getTime();
  }

  private call(attempt: Attempt): void {
    const task = this.context.df.callActivity(FunctionNames.callRecipient, callInput(this.input, this.factSpec, attempt));
    this.calls.set(task, attempt);
    this.tried.set(attempt.index, attempt.attempt);
    this.stream.add(task);
    this.replies?.delivering(attempt.index, attempt.attempt, this.now());
  }

  private waitForLoan(): void {
    this.loan = this.context.df.waitForExternalEvent(SHARE_EVENT);
    this.stream.add(this.loan);
  }

  private waitForReply(): void {
    this.replyWait = this.context.df.waitForExternalEvent(REPLY_EVENT);
    this.stream.add(this.replyWait);
  }

  /** Schedules what fits in the window; nothing once the deadline has passed (its timer closes the gather). */
  private fill(): void {
    const window = this.window!;
    let refill = true;
    while (refill && (!this.deadline || this.context.df.currentUtcDateTime < this.deadline)) {
      refill = false;
      for (const attempt of window.next()) {
        if (!this.tally.isRecorded(attempt.index)) this.call(attempt);
        else {
          // A retry whose recipient replied meanwhile gives its slot back: the window fills again.
          window.settle(attempt.index);
          refill = true;
        }
      }
    }
  }

  private settle(task: df.Task): Taken {
    if (task === this.deadlineTimer) return { close: this.tally.deadlineDecision() };
    // The parent has decided: close with no decision of our own (pending recipients are abandoned).
    if (task === this.closeRequest) return { close: undefined };
    if (task === this.loan) {
      // More room (take() then fills it): the parent has counted it as this batch's share until the batch ends. A loan
      // raised again (its activity ran twice) is taken once.
      this.waitForLoan();
      const loan = shareOf(task.result);
      if (loan.number !== undefined && this.loansTaken.has(loan.number)) return "waiting";
      if (loan.number !== undefined) this.loansTaken.add(loan.number);
      this.window!.grow(loan);
      // "recorded": the status is written again (its `waiting` changes as the room fills); no outcome changed.
      return "recorded";
    }
    if (task === this.replyWait) {
      this.waitForReply();
      return takeReply(this.tally, this.replies!, this.window, this.input, task.result, this.now());
    }
    const retry = this.retryWaits.get(task as df.TimerTask);
    if (retry) {
      this.retryWaits.delete(task as df.TimerTask);
      if (this.tally.isRecorded(retry.index)) return "waiting"; // its reply came meanwhile
      // With a window the attempt waits for a slot, ahead of recipients not started yet.
      if (this.window) this.window.retry(retry);
      else this.call(retry);
      return "waiting";
    }
    const attempt = this.calls.get(task)!;
    this.calls.delete(task);
    return this.settleCall(task, attempt);
  }

  /** A call (one attempt) ended: its answer, its acknowledgement, or a failure to retry or to record. */
  private settleCall(task: df.Task, attempt: Attempt): Taken {
    // Its reply came before its delivery ended: the reply is what counts, the delivery only frees its slot.
    if (this.tally.isRecorded(attempt.index)) {
      this.window?.settle(attempt.index);
      return "waiting";
    }
    if (!task.isFaulted) {
      const output = task.result as CallRecipientOutput;
      if ("acknowledged" in output) {
        // Delivered: the slot is held until the reply (or the deadline), with no activity running.
        this.replies?.acknowledged(attempt.index, this.now(), output.durationMs);
        return "recorded";
      }
      this.window?.settle(attempt.index);
      const outcome = { attempts: attempt.attempt, durationMs: output.durationMs, answer: output.answer };
      this.tally.succeed(attempt.index, output.facts, outcome);
      return "recorded";
    }
    this.window?.settle(attempt.index);
    const reason = failureReason(task.result);
    const next = nextAttempt(this.context, this.input.retry, attempt, reason, this.deadline);
    if (!next.retryAt) {
      this.replies?.forget(attempt.index);
      if (isFinalFailure(reason)) {
        // Ended because the gather or this batch had stopped gathering (callRecipient), not by the recipient: abandoned.
        // A batch may learn so from its parent's status before the parent's close reaches it: it closes as for that.
        this.tally.settle(attempt.index, { status: "abandoned", attempts: attempt.attempt });
        return this.input.closable ? { close: undefined } : "recorded";
      }
      this.tally.fail(attempt.index, next.reason, { attempts: attempt.attempt });
      return "recorded";
    }
    const wait = this.context.df.createTimer(next.retryAt);
    this.retryWaits.set(wait, { index: attempt.index, attempt: attempt.attempt + 1 });
    this.stream.add(wait);
    return "waiting";
  }
}

/**
 * A reply (REPLY_EVENT) recorded as the recipient's outcome, when it is one this gather awaits: of one of its
 * recipients, delivered here, not settled yet. Anything else changes nothing.
 */
function takeReply(
  tally: GatherTally,
  replies: AwaitedReplies,
  window: CallWindow | undefined,
  input: RecipientGatherInput,
  data: unknown,
  nowMs: number,
): Taken {
  const event = parseReplyEvent(data);
  const index = event ? event.index - input.first : -1;
  if (!event || index < 0 || index >= input.count || tally.isRecorded(index)) return "waiting";
  const awaited = replies.reply(index, nowMs);
  if (!awaited) return "waiting";
  if (awaited.freesSlot) window?.settle(index);
  if ("error" in event) tally.fail(index, event.error, { attempts: awaited.attempts });
  else tally.succeed(index, event.facts, { attempts: awaited.attempts, durationMs: awaited.durationMs, answer: event.answer });
  return "recorded";
}

/** A loan's data, `{ maxInFlight, perOrigin, loan }`: whole numbers of at least 0 (anything else none), and its number. */
function shareOf(data: unknown): { maxInFlight: number; perOrigin: number; number?: number } {
  const given = (data ?? {}) as { maxInFlight?: unknown; perOrigin?: unknown; loan?: unknown };
  const units = (n: unknown) => (Number.isSafeInteger(n) && (n as number) > 0 ? (n as number) : 0);
  const number = Number.isSafeInteger(given.loan) ? (given.loan as number) : undefined;
  return { maxInFlight: units(given.maxInFlight), perOrigin: units(given.perOrigin), ...(number !== undefined ? { number } : {}) };
}

/** What a gather did with a task the stream handed back. */
export type Taken = "recorded" | "waiting" | { close: Decision | undefined };

/**
 * The one gather loop (direct gathers, batches, and the parent of batches): takes tasks in completion
 * order and hands each to `take`; after each recorded outcome it updates the progress and asks the
 * policy. Ends with the policy's decision, or with the one `take` closes on (deadline, parent's close).
 */
export function* gatherLoop(
  context: OrchestrationContext,
  stream: CompletionStream,
  tally: GatherTally,
  deadlineIso: string | null,
  take: (task: df.Task) => Taken,
  extra?: () => Partial<GatherProgress>,
): Orchestration<Decision | undefined> {
  const progress = () => (extra ? { ...tally.progress(deadlineIso), ...extra() } : tally.progress(deadlineIso));
  context.df.setCustomStatus(progress());
  let decision = tally.decision();
  while (!decision) {
    const taken = take(yield* stream.next());
    if (typeof taken === "object") return taken.close;
    if (taken === "waiting") continue;
    context.df.setCustomStatus(progress());
    decision = tally.decision();
  }
  return decision;
}

function callInput(input: RecipientGatherInput, facts: FactSpec, { index, attempt }: Attempt): CallRecipientInput {
  return {
    requestId: input.requestId,
    run: input.run,
    index: input.first + index,
    facts,
    ...(input.closeKey ? { closeKey: input.closeKey } : {}),
    ...(attempt > 1 ? { attempt } : {}),
  };
}

/** When the failed recipient is tried again, or the reason it is finally failed. */
function nextAttempt(
  context: OrchestrationContext,
  retry: RetrySpec | undefined,
  failed: Attempt,
  reason: string,
  deadline: Date | null,
): { retryAt?: Date; reason: string } {
  // The replay-safe clock: the wait a recipient asked for (Retry-After) counts from this episode's time.
  const next = nextRetry(retry, failed.attempt, reason, context.df.currentUtcDateTime.getTime(), deadline?.getTime());
  return next.retryAtMs === undefined ? { reason: next.reason } : { retryAt: new Date(next.retryAtMs), reason: next.reason };
}
