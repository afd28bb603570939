/**
 * Cross-batch decisions. A parent learns a batch's outcomes only as the batch ends, so a failure tolerance or a
 * quorum that no single batch decides would wait for whole batches (up to the deadline when one holds a slow
 * recipient). From CENSUS_INTERVAL_MS on (backing off, at most MAX_CENSUSES times) the parent reads its running
 * batches' counts from their custom statuses (censusBatches) and closes once their sum with what it has merged
 * already decides. Both counts only grow
 * (a recipient's final failure or success is recorded once), so the outcomes the closed batches hand back
 * agree with the decision. An agreement quorum (since censusVotes) counts votes the same way: each batch shows the
 * digests most of its answers carry (VOTES_SHOWN of them) and how many; the census sums them over the batches still
 * running, for the digests the parent's merged answers carry most and those the batches show most, and the parent
 * adds its own count of each. A batch showing only its leaders may leave a digest out: the sum is a lower bound, so
 * the census may decide later than it could, never wrongly.
 */
import { batchNumberOf } from "./instanceIds";
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

/** Digests with how many answers carry each. */
export type Votes = [digest: string, count: number][];

/**
 * What a census reads: each batch's counts; for an agreement quorum also the running batches' votes for a few digests,
 * batch by batch (`[batch, count of digests[0], count of digests[1], …]`, batches with none left out), so that the
 * parent can leave out a batch it merged after the read, as it does with counts.
 */
export interface CensusRead {
  batches: BatchCounts[];
  votes?: { digests: string[]; batches: number[][] };
}

/** How many of its leading digests a batch of an agreement quorum shows in its status; the parent asks about as many. */
export const VOTES_SHOWN = 3;

/**
 * Whether a gather of these batches can be decided by a census: a tolerance, a quorum of plain successes, or (an input
 * with censusVotes) an agreement quorum.
 */
export function needsCensus(policy: GatherPolicy, votes = false): boolean {
  return policy.failuresAllowed !== undefined || (policy.mode === "quorum" && (!policy.agree || votes));
}

/**
 * The decision the census makes, if any: `merged` are the counts of the batches the parent has merged (and, for
 * successes, a redrive's kept ones; failures count this run's only, as the tolerance does), `running` the census
 * of the others (entries of batches merged meanwhile are left out by `isMerged`).
 */
export function censusDecision(
  policy: GatherPolicy,
  merged: { succeeded: number; failed: number; agreementOn?: (digest: string) => number },
  census: CensusRead,
  isMerged: (batch: number) => boolean,
): Decision | undefined {
  let { succeeded, failed } = merged;
  for (const [batch, batchSucceeded, batchFailed] of census.batches) {
    if (isMerged(batch)) continue;
    succeeded += batchSucceeded;
    failed += batchFailed;
  }
  // Each digest: the parent's own count, and the votes of the batches it has not merged (ended batches are left out
  // by the census, merged ones here: nothing is counted twice).
  let largestAgreement = 0;
  const { digests = [], batches: votes = [] } = census.votes ?? {};
  digests.forEach((digest, i) => {
    let count = merged.agreementOn?.(digest) ?? 0;
    for (const [batch, ...counts] of votes) if (!isMerged(batch)) count += counts[i] ?? 0;
    largestAgreement = Math.max(largestAgreement, count);
  });
  if (quorumReached(policy, { succeeded, largestAgreement })) return { closedBy: "quorum-reached", outcome: "complete" };
  if (toleranceExceeded(policy, failed)) return { closedBy: "failure-tolerance-exceeded", outcome: "failed" };
  return undefined;
}

/**
 * Whether the merged outcomes (every batch handed back) bear a census decision out. They do unless a batch whose
 * counts the census took then failed internally (its recipients all count failed): then the quorum was not reached.
 */
export function confirmedByMerge(
  decision: Decision,
  policy: GatherPolicy,
  merged: { succeeded: number; failed: number; largestAgreement: number },
): boolean {
  if (decision.closedBy === "quorum-reached") return quorumReached(policy, merged);
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
}: BatchStatus): { succeeded: number; failed: number; awaitingReply: number; votes: Votes } | undefined {
  if (runtimeStatus === "Failed") return undefined;
  const status = customStatus as { succeeded?: unknown; failed?: unknown; awaitingReply?: unknown; votes?: unknown } | null;
  if (typeof status?.succeeded !== "number" || typeof status.failed !== "number") return undefined;
  return {
    succeeded: status.succeeded,
    failed: status.failed,
    awaitingReply: typeof status.awaitingReply === "number" ? status.awaitingReply : 0,
    votes: votesOf(status.votes),
  };
}

function votesOf(value: unknown): Votes {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is [string, number] => Array.isArray(v) && typeof v[0] === "string" && Number.isSafeInteger(v[1]) && v[1] > 0);
}

/** The counts of a run's batches as an instance query shows them (ids `prefix` + number). */
export function batchCountsOf(prefix: string, statuses: readonly BatchStatus[]): BatchCounts[] {
  const counts: BatchCounts[] = [];
  for (const status of statuses) {
    const batch = batchNumberOf(prefix, status.instanceId);
    const shown = batchStatusCounts(status);
    if (Number.isSafeInteger(batch) && shown) counts.push([batch, shown.succeeded, shown.failed]);
  }
  return counts;
}

/**
 * What censusBatches returns for a run's batches (ids `prefix` + number) as an instance query shows them: their counts,
 * and when `votes` are asked (an agreement quorum) the running batches' votes too. Counts alone stay a bare array, as
 * every census before votes returned (their histories replay).
 */
export function readCensus(prefix: string, statuses: readonly BatchStatus[], votes?: readonly string[]): BatchCounts[] | CensusRead {
  const batches = batchCountsOf(prefix, statuses);
  return votes ? { batches, votes: runningVotes(prefix, statuses, votes) } : batches;
}

/**
 * The running batches (of `running`) still gathering, with the calls each shows waiting for a slot (lendShares: only
 * they can use more share; a batch that decided ends its calls).
 */
export function waitingBatches(
  prefix: string,
  running: readonly number[],
  statuses: readonly BatchStatus[],
): [batch: number, waiting: number][] {
  const wanted = new Set(running);
  const waiting: [number, number][] = [];
  for (const status of statuses) {
    const batch = batchNumberOf(prefix, status.instanceId);
    const progress = status.customStatus as { phase?: unknown; waiting?: unknown } | null;
    if (!wanted.has(batch) || status.runtimeStatus !== "Running" || progress?.phase !== "gathering") continue;
    if (Number.isSafeInteger(progress.waiting)) waiting.push([batch, progress.waiting as number]);
  }
  return waiting;
}

const ENDED = new Set(["Completed", "Failed", "Terminated", "Canceled"]);

/** An instance that has ended, whatever way (durable runtime statuses). */
export function hasEnded(runtimeStatus: string | undefined): boolean {
  return ENDED.has(runtimeStatus ?? "");
}

/**
 * The votes of the batches still running (ids `prefix` + number), batch by batch, for the digests `asked` (the
 * parent's leaders) and those the batches show most in all (VOTES_SHOWN of them): at most 2 × VOTES_SHOWN digests,
 * and a few numbers a batch. A batch that has ended is left out: its parent has merged its answers, or will.
 */
export function runningVotes(prefix: string, statuses: readonly BatchStatus[], asked: readonly string[]): NonNullable<CensusRead["votes"]> {
  const running: [number, Votes][] = [];
  const sums = new Map<string, number>();
  for (const status of statuses) {
    const batch = batchNumberOf(prefix, status.instanceId);
    const votes = batchStatusCounts(status)?.votes ?? [];
    if (!Number.isSafeInteger(batch) || hasEnded(status.runtimeStatus) || votes.length === 0) continue;
    running.push([batch, votes]);
    for (const [digest, count] of votes) sums.set(digest, (sums.get(digest) ?? 0) + count);
  }
  const leaders = [...sums].sort((a, b) => b[1] - a[1]).slice(0, VOTES_SHOWN);
  const digests = [...new Set([...asked.slice(0, VOTES_SHOWN), ...leaders.map(([digest]) => digest)])];
  const batches = running.flatMap(([batch, votes]) => {
    const counts = digests.map((digest) => votes.find(([d]) => d === digest)?.[1] ?? 0);
    return counts.some((n) => n > 0) ? [[batch, ...counts]] : [];
  });
  return { digests, batches };
}
