/**
 * Outcome bookkeeping for one gather: answers recorded by index as they arrive (O(1) each), the tally
 * the policy reads, the progress shown in customStatus, the aggregation computed from answer facts,
 * and the final outcomes once the gather closes. It holds facts, never values: the values are in the
 * payload store, so the orchestrator's state stays small whatever the recipients answer.
 */
import { Aggregation, type AggregatePlan } from "./aggregation";
import { EqualValueCounter } from "./equalValues";
import type { AnswerFacts } from "./facts";
import { clipError, type RecipientOutcome } from "./outcomes";
import { atDeadline, decide, type Decision, type GatherPolicy, type SliceOptions } from "./policy";
import type { AggregateSpec, Counts, GatherProgress } from "./types";

const COLLECT: AggregateSpec = { kind: "collect", order: "min" };

/**
 * A redrive's earlier outcomes that it keeps (gather/redrive.ts): their counts and, for an agreement quorum, the
 * digests of their answers with how many share each (only the groups that can still reach the quorum).
 */
export interface KeptOutcomes extends Counts {
  agreement?: [digest: string, count: number][];
}

export class GatherTally {
  private readonly outcomes: (RecipientOutcome | undefined)[];
  /** Facts of each succeeded answer (a batch hands them to its parent). */
  private readonly facts: (AnswerFacts | undefined)[];
  private succeeded = 0;
  private failed = 0;
  private timedOut = 0;
  private abandoned = 0;
  private readonly agreement = new EqualValueCounter();
  private readonly aggregation: Aggregation;

  /**
   * `total` recipients (or expected answers), recorded by index 0..total-1. `kept`: a redrive's earlier
   * outcomes (gather/redrive.ts), part of the whole gather's counts and of the policy's successes; the failure
   * tolerance and the deadline count this run's recipients only.
   */
  constructor(
    readonly total: number,
    private readonly policy: GatherPolicy,
    aggregate: AggregateSpec = COLLECT,
    private readonly slice: SliceOptions = {},
    private readonly kept: KeptOutcomes = { total: 0, succeeded: 0, failed: 0, timedOut: 0, abandoned: 0 },
  ) {
    this.outcomes = new Array(total);
    this.facts = new Array(total);
    this.aggregation = new Aggregation(aggregate);
    if (policy.agree) for (const [digest, count] of kept.agreement ?? []) this.agreement.add(digest, count);
  }

  get pending(): number {
    return this.total - this.succeeded - this.failed - this.timedOut - this.abandoned;
  }

  isRecorded(index: number): boolean {
    return this.outcomes[index] !== undefined;
  }

  succeed(index: number, facts: AnswerFacts, extra: Pick<RecipientOutcome, "attempts" | "durationMs" | "answer"> = {}): void {
    this.record(index, { status: "succeeded", ...extra });
    this.facts[index] = facts;
    this.succeeded++;
    if (this.policy.agree) this.agreement.add(facts.digest ?? null);
    this.aggregation.add(index, facts);
  }

  fail(index: number, error: string, extra: { attempts?: number } = {}): void {
    this.record(index, { status: "failed", error: clipError(error), ...extra });
    this.failed++;
  }

  /** An outcome settled elsewhere (a batch's): recorded as it is, with the answer's facts if it succeeded. */
  settle(index: number, outcome: RecipientOutcome, facts?: AnswerFacts): void {
    switch (outcome.status) {
      case "succeeded":
        return this.succeed(index, facts ?? { bytes: 0 }, pick(outcome));
      case "failed":
        return this.fail(index, outcome.error ?? "failed", pick(outcome));
      case "timedOut":
        this.record(index, outcome);
        this.timedOut++;
        return;
      case "abandoned":
        this.record(index, outcome);
        this.abandoned++;
        return;
    }
  }

  /**
   * What the policy counts of what has been recorded: successes with a redrive's kept ones (the whole gather), failures
   * of this run only (the tolerance's).
   */
  policyCounts(): { succeeded: number; failed: number; largestAgreement: number } {
    return { succeeded: this.succeeded + this.kept.succeeded, failed: this.failed, largestAgreement: this.agreement.largest };
  }

  /** Agreement quorums: the answers carrying `digest` so far (a redrive's kept ones included). */
  agreementOn(digest: string): number {
    return this.agreement.countOf(digest);
  }

  /** Agreement quorums: the `k` digests most answers carry, with how many (a batch shows them to its parent's census). */
  agreementLeaders(k: number): [digest: string, count: number][] {
    return this.agreement.leaders(k).flatMap(({ value, count }) => (typeof value === "string" ? [[value, count] as [string, number]] : []));
  }

  /** The policy's verdict on what has been recorded so far. */
  decision(): Decision | undefined {
    return decide(
      this.policy,
      {
        total: this.total + this.kept.total,
        succeeded: this.succeeded + this.kept.succeeded,
        failed: this.failed,
        timedOut: this.timedOut,
        pending: this.pending,
        lost: this.kept.timedOut + this.kept.abandoned,
        largestAgreement: this.agreement.largest,
      },
      this.slice,
    );
  }

  /** The verdict when the deadline fires first. */
  deadlineDecision(): Decision {
    return atDeadline({ succeeded: this.succeeded + this.kept.succeeded });
  }

  progress(deadline: string | null, phase: GatherProgress["phase"] = "gathering"): GatherProgress {
    return progressOf(this.counts(), deadline, phase);
  }

  /**
   * Closes the gather: every recipient still pending becomes `timedOut` (closed by the deadline) or
   * `abandoned` (closed early by the policy, or with no decision: by a parent gather that decided), unless
   * `pending` says which (a parent of batches that closed at its deadline with the policy met by then), with the
   * attempts each has made (`attemptsMade`, when known). Returns the outcomes in recipient-list order.
   */
  close(
    decision: Decision | undefined,
    pending?: "timedOut" | "abandoned",
    attemptsMade?: (index: number) => number | undefined,
  ): { outcomes: RecipientOutcome[]; facts: (AnswerFacts | null)[]; counts: Counts } {
    const status = pending ?? (decision?.closedBy === "deadline" ? "timedOut" : "abandoned");
    for (let i = 0; i < this.outcomes.length; i++) {
      if (this.outcomes[i] !== undefined) continue;
      const attempts = attemptsMade?.(i);
      this.settle(i, attempts ? { status, attempts } : { status });
    }
    return { outcomes: this.outcomes as RecipientOutcome[], facts: Array.from(this.facts, (f) => f ?? null), counts: this.counts() };
  }

  /** The whole gather's counts: this run's and, in a redrive, the earlier outcomes it keeps. */
  counts(): Counts {
    const k = this.kept;
    return {
      total: this.total + k.total,
      succeeded: this.succeeded + k.succeeded,
      failed: this.failed + k.failed,
      timedOut: this.timedOut + k.timedOut,
      abandoned: this.abandoned + k.abandoned,
    };
  }

  /** What the aggregation needs from the payload store. */
  plan(): AggregatePlan {
    return this.aggregation.plan();
  }

  private record(index: number, outcome: RecipientOutcome): void {
    if (this.outcomes[index] !== undefined) throw new Error(`recipient #${index} was recorded twice`);
    this.outcomes[index] = outcome;
  }
}

function pick(outcome: RecipientOutcome): Pick<RecipientOutcome, "attempts" | "durationMs" | "answer"> {
  return {
    ...(outcome.attempts !== undefined ? { attempts: outcome.attempts } : {}),
    ...(outcome.durationMs !== undefined ? { durationMs: outcome.durationMs } : {}),
    ...(outcome.answer !== undefined ? { answer: outcome.answer } : {}),
  };
}

/** customStatus from counts: while gathering (GatherTally.progress) and after the close (the orchestrator). */
export function progressOf(counts: Counts, deadline: string | null, phase: GatherProgress["phase"]): GatherProgress {
  const pending = counts.total - counts.succeeded - counts.failed - counts.timedOut - counts.abandoned;
  // Timed out and abandoned only once there are any (at the close, or kept by a redrive), so the figures add up.
  return {
    phase,
    total: counts.total,
    succeeded: counts.succeeded,
    failed: counts.failed,
    ...(counts.timedOut > 0 ? { timedOut: counts.timedOut } : {}),
    ...(counts.abandoned > 0 ? { abandoned: counts.abandoned } : {}),
    pending,
    deadline,
  };
}
