/**
 * GET /api/scatter-gather/{id}: what a running gather shows beyond its own custom status.
 *
 * - `policy`: the gather's completion policy, aggregate, retry, ... from its orchestration input (never the
 *   request, the recipients or their headers: those are in the payload store, not in the input).
 * - Live progress of a large gather. Its parent orchestration learns a batch's answers only when the batch
 *   ends, so its own custom status moves in steps of FANOUT_BATCH_SIZE. Each batch keeps its counts in its own
 *   custom status as answers arrive; one instance query by the batches' id prefix sums them (with, in a
 *   redrive, the earlier outcomes it keeps). No durable action is spent on it, and the figures never go below
 *   the parent's own.
 */
import type { DurableOrchestrationStatus } from "durable-functions";
import { instancesPage } from "./gatherList";
import { batchPrefixOf, isActive } from "../durable/client";
import { batchStatusCounts, hasEnded, type BatchStatus } from "../gather/census";
import type { Counts, GatherProgress, OrchestrationInput } from "../gather/types";
import { endedUnsettled, progressOf } from "../http/progress";

/** The policy a gather runs under, as its input holds it. */
export function policyOf(input: unknown): Record<string, unknown> | null {
  if (typeof input !== "object" || input === null) return null;
  const given = input as Partial<OrchestrationInput> & Record<string, unknown>;
  const policy: Record<string, unknown> = {};
  for (const key of ["completion", "aggregate", "retry", "concurrency", "tolerance", "onClose"]) {
    if (given[key] !== undefined) policy[key] = given[key];
  }
  // The input carries an order for every kind (normalized); only "best" has one to show.
  if (given.aggregate && given.aggregate.kind !== "best") {
    const { order: _order, ...aggregate } = given.aggregate;
    policy.aggregate = aggregate;
  }
  if (given.auction) policy.auction = { expected: given.auction.expected ?? null, notify: given.auction.notify?.length ?? 0 };
  return Object.keys(policy).length > 0 ? policy : null;
}

/**
 * The parent's progress with the batches' live counts summed in (each figure at least the parent's). A redrive's
 * batches count only the recipients it runs again: the earlier outcomes it keeps (`kept`) are added to them. A
 * batch that failed internally counts nothing of its own: the parent counts all its recipients failed.
 */
export function withBatchCounts(parent: GatherProgress, batches: readonly BatchStatus[], kept?: Counts): GatherProgress {
  let succeeded = kept?.succeeded ?? 0;
  let failed = kept?.failed ?? 0;
  let awaitingReply = 0;
  for (const batch of batches) {
    const counts = batchStatusCounts(batch);
    if (!counts) continue;
    succeeded += counts.succeeded;
    failed += counts.failed;
    awaitingReply += counts.awaitingReply;
  }
  const merged = { ...parent, succeeded: Math.max(parent.succeeded, succeeded), failed: Math.max(parent.failed, failed) };
  const unsettled = parent.total - merged.succeeded - merged.failed - (parent.timedOut ?? 0) - (parent.abandoned ?? 0);
  const pending = Math.max(0, Math.min(parent.pending, unsettled));
  // Callback and queue recipients waiting for their reply, of the pending ones.
  return { ...merged, pending, ...(awaitingReply > 0 ? { awaitingReply: Math.min(awaitingReply, pending) } : {}) };
}

/**
 * The `progress` of GET /api/scatter-gather/{id}: while a large gather runs, its batches' counts as they stand,
 * also while it takes back their outcomes after it decided (phase aggregating); once done, its own. One terminated
 * (or failed) while it gathered keeps what its batches had settled: the parent learns a batch's counts only when
 * the batch ends. `status` must carry the input (the batches' id prefix); without the durable client's endpoint,
 * or should the query fail (then `warn` says so), the parent's own counts.
 */
export async function liveProgress(
  status: DurableOrchestrationStatus,
  rpcBaseUrl: string | undefined,
  warn: (message: string) => void,
  fetchImpl: typeof fetch = fetch,
): Promise<unknown> {
  const own = progressOf(status.customStatus, status);
  const prefix = batchPrefixOf(status);
  const gathering = ["gathering", "aggregating"].includes((status.customStatus as GatherProgress | null)?.phase ?? "");
  if (!showsBatchCounts(status.runtimeStatus) || !prefix || !rpcBaseUrl || !gathering || own === null) return own;
  try {
    const kept = (status.input as Partial<OrchestrationInput> | null)?.redrive?.kept;
    // Summed with the parent's own counts as its status holds them, then shown as the instance's state says (one that
    // ended without its result: its unsettled recipients abandoned, once, after the batches' counts are in).
    const parent = status.customStatus as GatherProgress;
    return progressOf(withBatchCounts(parent, await batchStatusesByPrefix(rpcBaseUrl, prefix, fetchImpl), kept), status);
  } catch (error) {
    warn(`progress of ${status.instanceId}: the batches' counts could not be read (${(error as Error).message})`);
    return own;
  }
}

/**
 * Whether a gather in this runtime status shows its batches' counts: while it runs, and once it ended without its
 * result (the parent never learned the counts of the batches it had not merged).
 */
function showsBatchCounts(runtimeStatus: string): boolean {
  return isActive({ runtimeStatus }) || endedUnsettled(runtimeStatus);
}

/** A row of the list, as views/gatherList.ts summarizes it. */
interface ListRow {
  id: string;
  runtimeStatus: string;
  progress: unknown;
}

/** Rows of one list page whose progress is read live (the newest first): two queries each. */
export const LIVE_LIST_ROWS = 20;
/** Of those, read at once. */
const LIVE_LIST_READS_AT_ONCE = 5;

/**
 * The list's rows with the progress GET /api/scatter-gather/{id} shows, for the newest LIVE_LIST_ROWS rows that
 * may have batches (more recipients than `batchSize`, the app's FANOUT_BATCH_SIZE): running, or ended without a
 * result (the parent never learned the counts of the batches it had not merged). `readLive` reads one gather's
 * live progress (its status with input, then liveProgress); undefined (gone meanwhile) leaves the row's own, as does
 * a failure, which `warn` reports. The other rows keep their own custom status.
 */
export async function withLiveListProgress<T extends ListRow>(
  rows: readonly T[],
  batchSize: number,
  readLive: (id: string) => Promise<unknown>,
  warn: (message: string) => void,
): Promise<T[]> {
  const out = [...rows];
  const mayHaveBatches = (row: T) =>
    showsBatchCounts(row.runtimeStatus) && ((row.progress as GatherProgress | null)?.total ?? 0) > batchSize;
  const candidates = out
    .map((row, index) => ({ row, index }))
    .filter(({ row }) => mayHaveBatches(row))
    .slice(0, LIVE_LIST_ROWS);
  for (let next = 0; next < candidates.length; next += LIVE_LIST_READS_AT_ONCE) {
    await Promise.all(
      candidates.slice(next, next + LIVE_LIST_READS_AT_ONCE).map(async ({ row, index }) => {
        try {
          const live = await readLive(row.id);
          if (live !== undefined && live !== null) out[index] = { ...row, progress: live };
        } catch (error) {
          warn(`progress of ${row.id} in the list: its own, as its live progress could not be read (${(error as Error).message})`);
        }
      }),
    );
  }
  return out;
}

/** Runtime and custom statuses of the instances whose id starts with `prefix`, through the durable client's endpoint. */
export async function batchStatusesByPrefix(rpcBaseUrl: string, prefix: string, fetchImpl: typeof fetch = fetch): Promise<BatchStatus[]> {
  const url = new URL("instances/", rpcBaseUrl);
  url.searchParams.set("instanceIdPrefix", prefix);
  url.searchParams.set("top", "1000");
  url.searchParams.set("showInput", "false");
  const statuses: BatchStatus[] = [];
  let token: string | undefined;
  // A gather has at most MAX_RECIPIENTS / FANOUT_BATCH_SIZE batches (15,000 at batches of one): bounded pages.
  for (let pages = 0; pages < 20; pages++) {
    const page = await instancesPage<BatchStatus>(url.href, token, fetchImpl, 10_000);
    if (page.status !== 200) throw new Error(`the Durable instance query answered ${page.status}`);
    for (const item of page.items)
      statuses.push({ instanceId: item.instanceId, runtimeStatus: item.runtimeStatus, customStatus: item.customStatus ?? null });
    token = page.continuationToken ?? undefined;
    if (!token) break;
  }
  return statuses;
}

const BATCH_STATES_TTL_MS = 1000;
const batchStateReads = new Map<string, { at: number; pending: boolean; states: Promise<ReadonlyMap<string, boolean>> }>();

/**
 * Whether each of a run's batches (`prefix`: its batch id prefix, which names the run) has stopped gathering: done
 * (decided, or closed by their parent) or ended; a batch the listing does not show is not in the map (the caller
 * reads its status instead). One instance query per endpoint and prefix at a time, and at most one a second after
 * the last one settled, per process, shared by every call that asks meanwhile (callRecipient asks before and
 * during each call), however many batches there are.
 */
export function batchStates(
  rpcBaseUrl: string,
  prefix: string,
  clock: () => number = Date.now,
  fetchImpl: typeof fetch = fetch,
): Promise<ReadonlyMap<string, boolean>> {
  const key = `${rpcBaseUrl}\n${prefix}`;
  const now = clock();
  const cached = batchStateReads.get(key);
  if (cached && (cached.pending || now - cached.at < BATCH_STATES_TTL_MS)) return cached.states;
  const entry = { at: now, pending: true, states: Promise.resolve(new Map<string, boolean>()) as Promise<ReadonlyMap<string, boolean>> };
  entry.states = batchStatusesByPrefix(rpcBaseUrl, prefix, fetchImpl)
    .then((statuses) => {
      const states = new Map<string, boolean>();
      for (const status of statuses) if (status.instanceId) states.set(status.instanceId, hasStopped(status));
      return states;
    })
    .finally(() => {
      entry.pending = false;
      entry.at = clock();
    });
  batchStateReads.set(key, entry);
  for (const [other, { at, pending }] of batchStateReads) if (!pending && now - at > 60_000) batchStateReads.delete(other);
  return entry.states;
}

/** Done, or ended. A status the query does not give counts as gathering: the check may save calls, never lose one. */
function hasStopped({ runtimeStatus, customStatus }: BatchStatus): boolean {
  return hasEnded(runtimeStatus) || (customStatus as Partial<GatherProgress> | null)?.phase === "done";
}
