/**
 * Cross-batch decisions. A parent learns a batch's outcomes only as the batch ends, so a failure tolerance or a
 * quorum that no single batch decides would wait for whole batches (up to the deadline when one holds a slow
 * recipient). From CENSUS_INTERVAL_MS on (backing off, at most MAX_CENSUSES times) the parent reads its running
 * batches' counts from their custom statuses (censusBatches) and closes once their sum with what it has merged
 * already decides. Both counts only grow
 * (a recipient's final failure or success is recorded once), so the outcomes the closed batches hand back
 * agree with the decision. Agreement is left out: the statuses carry counts, not the answers' digests.
 */
import { quorumReached, toleranceExceeded, type Decision, type GatherPolicy } from "./policy";

/** How soon after its start a parent that needs it first reads its batches' counts. */
export const CENSUS_INTERVAL_MS = 2000;
/** Each census that decides nothing waits half as long again before the next, up to this. */
export const CENSUS_MAX_INTERVAL_MS = 60_000;
/**
 * Censuses a gather takes at most: each adds a timer and an activity (8 events) to the parent's history, which every
 * episode replays. 60 of them cover about 53 minutes (2 s, 3 s, 4.5 s, … then every minute); a gather still
 * undecided by then decides as its batches end, as without a census.
 */
export const MAX_CENSUSES = 60;

/** The wait before census number `n` (0 the first). */
export function censusDelayMs(firstMs: number, n: number): number {
  return Math.min(CENSUS_MAX_INTERVAL_MS, Math.round(firstMs * 1.5 ** n));
}

/** One running batch's counts: [batch number, succeeded, failed]. */
export type BatchCounts = [batch: number, succeeded: number, failed: number];

/** Whether a gather of these batches can be decided by a census: a tolerance, or a quorum of plain successes. */
export function needsCensus(policy: GatherPolicy): boolean {
  return policy.failuresAllowed !== undefined || (policy.mode === "quorum" && !policy.agree);
}

/**
 * The decision the census makes, if any: `merged` are the counts of the batches the parent has merged (and, for
 * successes, a redrive's kept ones; failures count this run's only, as the tolerance does), `running` the census
 * of the others (entries of batches merged meanwhile are left out by `isMerged`).
 */
export function censusDecision(
  policy: GatherPolicy,
  merged: { succeeded: number; failed: number },
  running: readonly BatchCounts[],
  isMerged: (batch: number) => boolean,
): Decision | undefined {
  let { succeeded, failed } = merged;
  for (const [batch, batchSucceeded, batchFailed] of running) {
    if (isMerged(batch)) continue;
    succeeded += batchSucceeded;
    failed += batchFailed;
  }
  // Counts carry no digests: an agreement quorum is never reached here (largestAgreement 0).
  if (quorumReached(policy, { succeeded, largestAgreement: 0 })) return { closedBy: "quorum-reached", outcome: "complete" };
  if (toleranceExceeded(policy, failed)) return { closedBy: "failure-tolerance-exceeded", outcome: "failed" };
  return undefined;
}

/**
 * Whether the merged outcomes (every batch handed back) bear a census decision out. They do unless a batch whose
 * counts the census took then failed internally (its recipients all count failed): then the quorum was not reached.
 */
export function confirmedByMerge(decision: Decision, policy: GatherPolicy, merged: { succeeded: number; failed: number }): boolean {
  if (decision.closedBy === "quorum-reached") return quorumReached(policy, { succeeded: merged.succeeded, largestAgreement: 0 });
  if (decision.closedBy === "failure-tolerance-exceeded") return toleranceExceeded(policy, merged.failed);
  return true;
}

/** What an instance query says of one batch. */
export interface BatchStatus {
  instanceId?: string;
  runtimeStatus?: string;
  customStatus: unknown;
}

/**
 * A batch's counts as its custom status shows them (the census here, the status route's live progress): none for a
 * batch that failed internally (its parent counts all its recipients failed) or that shows no counts yet.
 */
export function batchStatusCounts({
  runtimeStatus,
  customStatus,
}: BatchStatus): { succeeded: number; failed: number; awaitingReply: number } | undefined {
  if (runtimeStatus === "Failed") return undefined;
  const status = customStatus as { succeeded?: unknown; failed?: unknown; awaitingReply?: unknown } | null;
  if (typeof status?.succeeded !== "number" || typeof status.failed !== "number") return undefined;
  return {
    succeeded: status.succeeded,
    failed: status.failed,
    awaitingReply: typeof status.awaitingReply === "number" ? status.awaitingReply : 0,
  };
}

/** The counts of a run's batches as an instance query shows them (ids `prefix` + number). */
export function batchCountsOf(prefix: string, statuses: readonly BatchStatus[]): BatchCounts[] {
  const counts: BatchCounts[] = [];
  for (const status of statuses) {
    const batch = status.instanceId?.startsWith(prefix) ? Number(status.instanceId.slice(prefix.length)) : Number.NaN;
    const shown = batchStatusCounts(status);
    if (Number.isSafeInteger(batch) && shown) counts.push([batch, shown.succeeded, shown.failed]);
  }
  return counts;
}
