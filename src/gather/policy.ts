/**
 * The completion policy as a pure decision: given the tally so far, is the gather closed, and why?
 * The orchestrator asks this after every answer and at the deadline; it never decides on its own.
 */
import type { ClosedBy, CompletionPolicy, Outcome } from "./types";

export interface Tally {
  /** Recipients (or expected answers) in the gather. */
  total: number;
  succeeded: number;
  failed: number;
  /** Closed at a deadline upstream (a batch that timed out): no longer pending, never answering. */
  timedOut: number;
  /** Still waiting for an answer. */
  pending: number;
  /** The size of the largest group of equal successful values (for agreement quorums). */
  largestAgreement: number;
}

export interface Decision {
  closedBy: ClosedBy;
  outcome: Outcome;
}

/** The number the quorum is measured against: agreeing answers or plain successes. */
function quorumProgress(policy: CompletionPolicy, tally: Tally): number {
  return policy.agree ? tally.largestAgreement : tally.succeeded;
}

/** How a policy is applied to one slice of a large fan-out rather than to a whole gather. */
export interface SliceOptions {
  /**
   * Close early only when the policy is met; never as unreachable, since the slice's answers still
   * count towards the whole gather (its parent decides).
   */
  withinSlice?: boolean;
}

/** Closed, and how, or undefined while the gather must go on. */
export function decide(policy: CompletionPolicy, tally: Tally, options: SliceOptions = {}): Decision | undefined {
  switch (policy.mode) {
    case "first":
      if (tally.succeeded > 0) return { closedBy: "first-response", outcome: "complete" };
      break;
    case "quorum": {
      const quorum = policy.quorum ?? 1;
      const progress = quorumProgress(policy, tally);
      if (progress >= quorum) return { closedBy: "quorum-reached", outcome: "complete" };
      if (progress + tally.pending < quorum && !options.withinSlice) {
        // Answers lost to a deadline upstream made it unreachable: that is the deadline's doing.
        if (tally.timedOut > 0 && tally.pending === 0) return atDeadline(tally);
        return { closedBy: "quorum-unreachable", outcome: "failed" };
      }
      break;
    }
    case "all":
      break;
  }
  if (tally.pending > 0) return undefined;
  if (tally.timedOut > 0) return atDeadline(tally);
  if (tally.succeeded === 0) return { closedBy: "all-failed", outcome: "failed" };
  // mode "all": everyone answered or finally failed. first/quorum reach here only when unmet.
  return policy.mode === "all" ? { closedBy: "all-responded", outcome: "complete" } : { closedBy: "all-failed", outcome: "failed" };
}

/** The deadline passed before the policy was met. */
export function atDeadline(tally: Pick<Tally, "succeeded">): Decision {
  return { closedBy: "deadline", outcome: tally.succeeded > 0 ? "partial" : "failed" };
}
