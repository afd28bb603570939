/**
 * Auction: the request is published to the notify URLs once, then answers are taken as `response`
 * events until the policy, the deadline or the answer cap (MAX_RECIPIENTS) closes the gather. One
 * deadline timer for the whole auction and one event wait at a time, both through the CompletionStream,
 * so nothing is yielded twice and no timer is created per answer.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import { EqualValueCounter } from "../gather/equalValues";
import { atDeadline, decide, type Decision } from "../gather/policy";
import { validateAuctionAnswer } from "../gather/schema";
import type { Counts, GatherProgress, OrchestrationInput, RecipientResponse } from "../gather/types";
import { CompletionStream } from "./completionStream";
import type { Gathered, Orchestration } from "./gatherRecipients";
import { FunctionNames, RESPONSE_EVENT } from "./names";

export function* gatherAuction(context: OrchestrationContext, input: OrchestrationInput, deadline: Date): Orchestration<Gathered> {
  const auction = input.auction!;
  const deadlineIso = deadline.toISOString();
  const book = new AuctionBook(input, deadlineIso);

  context.df.setCustomStatus(book.progress());
  if (auction.notify.length > 0) {
    const payload = { requestId: context.df.instanceId, request: input.request, respondUrl: auction.respondUrl };
    // notifyResponder never throws: a failed notification is logged, the auction goes on.
    yield context.df.Task.all(auction.notify.map((url) => context.df.callActivity(FunctionNames.notifyResponder, { url, payload })));
  }
  const deadlineTimer = context.df.createTimer(deadline);
  const stream = new CompletionStream<Task>(context, [deadlineTimer]);
  let decision = book.verdict();
  while (!decision) {
    const answer = context.df.waitForExternalEvent(RESPONSE_EVENT);
    stream.add(answer);
    const task = yield* stream.next();
    if (task === deadlineTimer) {
      decision = atDeadline({ succeeded: book.count });
      break;
    }
    // Malformed events (sendEventPostUri bypasses validation) and repeat answers change nothing.
    if (!book.take(answer.result)) continue;
    context.df.setCustomStatus(book.progress());
    decision = book.verdict();
  }
  if (!deadlineTimer.isCompleted) deadlineTimer.cancel();
  return { decision, responses: book.responses, counts: book.counts() };
}

/** The answers of one auction: first answer per responder wins, at most `maxAnswers` of them. */
class AuctionBook {
  readonly responses: RecipientResponse[] = [];
  private readonly seen = new Set<string>();
  private readonly agreement = new EqualValueCounter();
  private readonly expected: number | undefined;
  private readonly maxAnswers: number;

  constructor(
    private readonly input: OrchestrationInput,
    private readonly deadlineIso: string,
  ) {
    this.expected = input.auction?.expected;
    this.maxAnswers = input.maxAnswers ?? Number.MAX_SAFE_INTEGER;
  }

  get count(): number {
    return this.responses.length;
  }

  /** Records an answer event; false when it is malformed, a repeat, or past the cap. */
  take(event: unknown): boolean {
    const parsed = validateAuctionAnswer(event);
    if (!parsed.ok || this.seen.has(parsed.value.responder) || this.count >= this.maxAnswers) return false;
    this.seen.add(parsed.value.responder);
    this.responses.push({ recipientId: parsed.value.responder, status: "succeeded", value: parsed.value.value });
    if (this.input.completion.agree) this.agreement.add(parsed.value.value);
    return true;
  }

  /** Answers that may still come: up to `expected`, else until the deadline, never past the cap. */
  private get pending(): number {
    const room = Math.max(0, this.maxAnswers - this.count);
    return this.expected !== undefined ? Math.min(room, Math.max(0, this.expected - this.count)) : room;
  }

  verdict(): Decision | undefined {
    return decide(this.input.completion, {
      total: this.expected ?? this.count,
      succeeded: this.count,
      failed: 0,
      timedOut: 0,
      pending: this.pending,
      largestAgreement: this.agreement.largest,
    });
  }

  progress(): GatherProgress {
    return {
      phase: "gathering",
      total: this.expected ?? this.count,
      succeeded: this.count,
      failed: 0,
      pending: this.expected !== undefined ? this.pending : 0,
      deadline: this.deadlineIso,
    };
  }

  counts(): Counts {
    return { total: this.count, succeeded: this.count, failed: 0, timedOut: 0, abandoned: 0 };
  }
}
