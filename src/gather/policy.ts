/**
 * The completion policy as a pure decision: given the tally so far, is the gather closed, and why?
 * The orchestrator asks this after every answer and at the deadline; it never decides on its own.
 */
import type { ClosedBy, CompletionPolicy, Outcome, ToleranceSpec } from "./types";

/** The completion policy with the gather's failure tolerance, as decide() applies them. */
export interface GatherPolicy extends CompletionPolicy {
  /**
   * The most recipients that may finally fail (tolerance, over the whole gather: toleratedFailures below); one
   * more closes the gather. Absent: no bound.
   */
  failuresAllowed?: number;
}

export interface Tally {
  /** Recipients (or expected answers) in the gather. */
  total: number;
  succeeded: number;
  failed: number;
  /** Closed at a deadline upstream (a batch that timed out): no longer pending, never answering. */
  timedOut: number;
  /** Still waiting for an answer. */
  pending: number;
  /**
   * A redrive's earlier recipients that timed out or were abandoned and are not run again (a `?status=` left them
   * out): they will not answer, so the whole gather is not complete under "all" however this run ends.
   */
  lost?: number;
  /** The size of the largest group of equal successful values (for agreement quorums). */
  largestAgreement: number;
}

export interface Decision {
  closedBy: ClosedBy;
  outcome: Outcome;
}

/** The number the quorum is measured against: agreeing answers or plain successes. */
function quorumProgress(policy: CompletionPolicy, tally: Pick<Tally, "succeeded" | "largestAgreement">): number {
  return policy.agree ? tally.largestAgreement : tally.succeeded;
}

/** A quorum policy met by these answers (decide; the census of a large gather's batches, census.ts). */
export function quorumReached(policy: CompletionPolicy, tally: Pick<Tally, "succeeded" | "largestAgreement">): boolean {
  return policy.mode === "quorum" && quorumProgress(policy, tally) >= (policy.quorum ?? 1);
}

/** More finally failed recipients than the tolerance allows (decide; the census, census.ts). */
export function toleranceExceeded(policy: GatherPolicy, failed: number): boolean {
  return policy.failuresAllowed !== undefined && failed > policy.failuresAllowed;
}

/** How a policy is applied to one slice of a large fan-out rather than to a whole gather. */
export interface SliceOptions {
  /**
   * Close early only when the policy is met; never as unreachable, since the slice's answers still
   * count towards the whole gather (its parent decides).
   */
  withinSlice?: boolean;
}

/**
 * Closed, and how, or undefined while the gather must go on. A met policy wins over the tolerance (a batch's
 * merged answers may meet both at once), and the tolerance over an unreachable quorum (the user's own bound).
 */
export function decide(policy: GatherPolicy, tally: Tally, options: SliceOptions = {}): Decision | undefined {
  switch (policy.mode) {
    case "first":
      if (tally.succeeded > 0) return { closedBy: "first-response", outcome: "complete" };
      break;
    case "quorum":
      if (quorumReached(policy, tally)) return { closedBy: "quorum-reached", outcome: "complete" };
      break;
  }
  // Also inside a slice: its own failures over the whole gather's bound exceed it for the whole gather too.
  if (toleranceExceeded(policy, tally.failed)) {
    return { closedBy: "failure-tolerance-exceeded", outcome: "failed" };
  }
  if (policy.mode === "quorum" && !options.withinSlice && quorumProgress(policy, tally) + tally.pending < (policy.quorum ?? 1)) {
    // Answers lost to a deadline upstream made it unreachable: that is the deadline's doing.
    if (tally.timedOut > 0 && tally.pending === 0) return atDeadline(tally);
    return { closedBy: "quorum-unreachable", outcome: "failed" };
  }
  if (tally.pending > 0) return undefined;
  if (tally.timedOut > 0) return atDeadline(tally);
  if (tally.succeeded === 0) return { closedBy: "all-failed", outcome: "failed" };
  // mode "all": everyone answered or finally failed (this run's recipients only, with some left out: partial).
  // first/quorum reach here only when unmet.
  if (policy.mode !== "all") return { closedBy: "all-failed", outcome: "failed" };
  return { closedBy: "all-responded", outcome: (tally.lost ?? 0) > 0 ? "partial" : "complete" };
}

/**
 * The most recipients of a gather of `total` that may finally fail under `tolerance`: the tighter of
 * maxFailures and maxFailurePercent of total. Undefined without a tolerance (no bound).
 */
export function toleratedFailures(tolerance: ToleranceSpec | undefined, total: number): number | undefined {
  if (!tolerance) return undefined;
  const bounds: number[] = [];
  if (tolerance.maxFailures !== undefined) bounds.push(tolerance.maxFailures);
  // "More than p % of total" is "more than floor(p × total / 100)"; the epsilon keeps 9.2 % of 750 at 69, not 68.99….
  if (tolerance.maxFailurePercent !== undefined) bounds.push(Math.floor((tolerance.maxFailurePercent * total) / 100 + 1e-9));
  return bounds.length > 0 ? Math.min(...bounds) : undefined;
}

/** The deadline passed before the policy was met. */
export function atDeadline(tally: Pick<Tally, "succeeded">): Decision {
  return { closedBy: "deadline", outcome: tally.succeeded > 0 ? "partial" : "failed" };
}
