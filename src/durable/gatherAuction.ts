/**
 * Auction: the request is published to the notify URLs once, then answers are taken as `response`
 * events until the policy, the deadline or the answer cap (MAX_RECIPIENTS) closes the gather. One
 * deadline timer for the whole auction and one event wait at a time, both through the CompletionStream,
 * so nothing is yielded twice and no timer is created per answer.
 *
 * Answers through the HTTP routes arrive already stored, as `{ responder }`; an answer raised straight
 * through sendEventPostUri carries its value. Either way storeAuctionAnswer computes the facts (storing a
 * raised value first, held to MAX_RESPONSE_BYTES): an event's own claims are never trusted. Responder names go to the payload store in chunks
 * (recordArrivals), so no durable payload grows with the number of answers.
 */
import type { OrchestrationContext, Task } from "durable-functions";
import type { AnswerFacts, FactSpec } from "../gather/facts";
import { findJsonProblem } from "../gather/json";
import { atDeadline, type Decision } from "../gather/policy";
import { GatherTally } from "../gather/tally";
import type { GatherProgress, OrchestrationInput } from "../gather/types";
import { CompletionStream } from "./completionStream";
import type { Gathered, Orchestration } from "./gatherRecipients";
import { FunctionNames, RESPONSE_EVENT } from "./names";

/** Responder names recorded per recordArrivals call (≤ 500 × 128 characters). */
export const ARRIVALS_PER_CHUNK = 500;

export interface AuctionGathered extends Gathered {
  /** How many chunks of responder names recordArrivals stored. */
  arrivalChunks: number;
}

/** What storeAuctionAnswer answers: the stored answer's facts, or why it does not count. */
export type StoredAnswer = { facts: AnswerFacts } | { rejected: string };

export function* gatherAuction(context: OrchestrationContext, input: OrchestrationInput, deadline: Date): Orchestration<AuctionGathered> {
  const auction = input.auction!;
  const book = new AuctionBook(input, deadline.toISOString());
  const factSpec: FactSpec = { agree: input.completion.agree, aggregate: input.aggregate };

  context.df.setCustomStatus(book.progress());
  if (auction.notify.length > 0) {
    const payload = { requestId: context.df.instanceId, run: input.run, respondUrl: auction.respondUrl };
    // notifyResponder never throws: a failed notification is logged, the auction goes on.
    yield context.df.Task.all(auction.notify.map((url) => context.df.callActivity(FunctionNames.notifyResponder, { url, ...payload })));
  }
  const deadlineTimer = context.df.createTimer(deadline);
  const stream = new CompletionStream<Task>(context, [deadlineTimer]);
  let decision = book.verdict();
  let chunks = 0;
  while (!decision) {
    const answer = context.df.waitForExternalEvent(RESPONSE_EVENT);
    stream.add(answer);
    const task = yield* stream.next();
    if (task === deadlineTimer) {
      decision = atDeadline({ succeeded: book.count });
      break;
    }
    const event = parseEvent(answer.result, input.maxAnswerBytes ?? Number.MAX_SAFE_INTEGER);
    // Malformed events, repeat answers and answers past the cap change nothing.
    if (!event || !book.isNew(event.responder)) continue;
    const stored = (yield context.df.callActivity(FunctionNames.storeAuctionAnswer, {
      run: input.run,
      responder: event.responder,
      ...(event.value !== undefined ? { value: event.value } : {}),
      facts: factSpec,
    })) as StoredAnswer;
    if ("rejected" in stored) continue;
    book.take(event.responder, stored.facts);
    if (book.count % ARRIVALS_PER_CHUNK === 0) yield* recordArrivals(context, input, chunks++, book);
    context.df.setCustomStatus(book.progress());
    decision = book.verdict();
  }
  if (!deadlineTimer.isCompleted) deadlineTimer.cancel();
  if (book.count % ARRIVALS_PER_CHUNK !== 0) yield* recordArrivals(context, input, chunks++, book);
  return { decision, ...book.close(decision), arrivalChunks: chunks };
}

function* recordArrivals(context: OrchestrationContext, input: OrchestrationInput, chunk: number, book: AuctionBook): Orchestration<void> {
  const responders = book.responders.slice(chunk * ARRIVALS_PER_CHUNK, (chunk + 1) * ARRIVALS_PER_CHUNK);
  yield context.df.callActivity(FunctionNames.recordArrivals, { run: input.run, chunk, responders });
}

/**
 * `{ responder }` from the HTTP routes (the answer is stored), or `{ responder, value }` raised straight at
 * the instance; any other field (such as claimed `facts`) is ignored. A raw value nested too deep, not
 * finite or over MAX_RESPONSE_BYTES is ignored here, before it could reach an activity input.
 */
function parseEvent(data: unknown, maxAnswerBytes: number): { responder: string; value?: unknown } | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const { responder, value } = data as Record<string, unknown>;
  if (typeof responder !== "string" || !/^[A-Za-z0-9._:-]{1,128}$/.test(responder)) return undefined;
  if (value === undefined) return { responder };
  if (findJsonProblem(value) || JSON.stringify(value).length > maxAnswerBytes) return undefined;
  return { responder, value };
}

/** The answers of one auction in arrival order: first answer per responder wins, at most `maxAnswers`. */
class AuctionBook {
  readonly responders: string[] = [];
  private readonly seen = new Set<string>();
  /** One slot per answer that may come: `expected`, else the cap; the policy reads it like any gather's. */
  private readonly tally: GatherTally;
  private readonly expected: number | undefined;
  private readonly maxAnswers: number;

  constructor(
    private readonly input: OrchestrationInput,
    private readonly deadlineIso: string,
  ) {
    this.maxAnswers = input.maxAnswers ?? 10_000;
    // Validation keeps `expected` within MAX_RECIPIENTS; the cap wins should it not.
    this.expected = input.auction?.expected !== undefined ? Math.min(input.auction.expected, this.maxAnswers) : undefined;
    this.tally = new GatherTally(this.expected ?? this.maxAnswers, input.completion, input.aggregate);
  }

  get count(): number {
    return this.responders.length;
  }

  isNew(responder: string): boolean {
    return !this.seen.has(responder) && this.count < this.maxAnswers;
  }

  take(responder: string, facts: AnswerFacts): void {
    this.seen.add(responder);
    this.tally.succeed(this.count, facts);
    this.responders.push(responder);
  }

  verdict(): Decision | undefined {
    return this.tally.decision();
  }

  progress(): GatherProgress {
    return {
      phase: "gathering",
      total: this.expected ?? this.count,
      succeeded: this.count,
      failed: 0,
      // Without `expected`, more answers may always come until the deadline: nothing is shown as pending.
      pending: this.expected !== undefined ? this.tally.pending : 0,
      deadline: this.deadlineIso,
    };
  }

  /** The accepted answers only (the tally was sized for the cap). */
  close(decision: Decision | undefined): Omit<Gathered, "decision"> {
    const { outcomes, facts } = this.tally.close(decision);
    const n = this.count;
    return {
      outcomes: outcomes.slice(0, n),
      facts: facts.slice(0, n),
      counts: { total: n, succeeded: n, failed: 0, timedOut: 0, abandoned: 0 },
      plan: this.tally.plan(),
    };
  }
}
