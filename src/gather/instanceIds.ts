/**
 * Instance ids: the ones clients choose and the ones the service makes for a large gather's batches.
 *
 * The Durable backends refuse longer ids (the Durable Task Scheduler and the local host: 100 characters,
 * see tools/local-host/engine/NOTES.md), so every id the service creates stays within MAX_INSTANCE_ID_LENGTH
 * whatever the client's id. Batch ids also carry a tag of the run: a finished id may be started again, and
 * its new batches must never reuse the ids of the earlier run's batches, which may still exist.
 */
import { createHash } from "node:crypto";

export const MAX_INSTANCE_ID_LENGTH = 100;

/**
 * Client ids: the recipient-id alphabet, at most 100 characters, and not only dots (`.` and `..` are path
 * segments URL resolution would collapse in the management URLs).
 */
export const INSTANCE_ID_PATTERN = new RegExp(`^(?!\\.+$)[A-Za-z0-9._:-]{1,${MAX_INSTANCE_ID_LENGTH}}$`);
export const INSTANCE_ID_RULE = `must be 1-${MAX_INSTANCE_ID_LENGTH} characters of A-Z a-z 0-9 . _ : -, not only dots`;

/** Whether a route's `{id}` can name an instance at all (anything else is a 404, never a lookup). */
export function isInstanceId(id: unknown): id is string {
  return typeof id === "string" && INSTANCE_ID_PATTERN.test(id);
}

/** Marks batch ids; `~` is outside the client alphabet, so no client can take a batch's id. */
export const BATCH_MARK = "~batch-";
/** Marks the instance that delivers a gather's close event (onClose). */
export const NOTIFY_MARK = "~notify-";
/** The largest batch number's digits: MAX_RECIPIENTS (≤ 15000) / FANOUT_BATCH_SIZE (≥ 1). */
const MAX_BATCH_DIGITS = 5;
const RUN_TAG_LENGTH = 8;
const ID_HASH_LENGTH = 11;

/**
 * `<id><mark><run tag>`, leaving `reserve` characters of the 100 for what follows. An id too long for that keeps
 * its head and a hash of the whole id (`<head>~<hash><mark>…`).
 */
function runScopedId(instanceId: string, runId: string, mark: string, reserve: number): string {
  const tag = createHash("sha256").update(runId).digest("hex").slice(0, RUN_TAG_LENGTH);
  const suffix = `${mark}${tag}`;
  const room = MAX_INSTANCE_ID_LENGTH - reserve - suffix.length;
  if (instanceId.length <= room) return `${instanceId}${suffix}`;
  const hash = createHash("sha256").update(instanceId).digest("base64url").slice(0, ID_HASH_LENGTH);
  return `${instanceId.slice(0, room - ID_HASH_LENGTH - 1)}~${hash}${suffix}`;
}

/**
 * What a run's batch ids start with (`<id>~batch-<run tag>-`), made once by the starter and carried in the
 * orchestration input: `<prefix><n>` is at most 100 characters for every client id and batch number.
 */
export function batchIdPrefix(instanceId: string, runId: string): string {
  return `${runScopedId(instanceId, runId, BATCH_MARK, MAX_BATCH_DIGITS + 1)}-`;
}

/** The instance that delivers a run's close event when it was terminated (`<id>~notify-<run tag>`). */
export function notifyInstanceId(instanceId: string, runId: string): string {
  return runScopedId(instanceId, runId, NOTIFY_MARK, 0);
}

/** The prefix a run's input carries, or, absent, that of an instance started before batch ids carried a run tag. */
export function runBatchPrefix(instanceId: string, prefix: string | undefined): string {
  return prefix ?? `${instanceId}${BATCH_MARK}`;
}

/** Batch `n`'s instance id. */
export function batchInstanceId(instanceId: string, prefix: string | undefined, batch: number): string {
  return `${runBatchPrefix(instanceId, prefix)}${batch}`;
}

/** The number of the batch `instanceId` names among a run's (`prefix`: runBatchPrefix), NaN when it names none. */
export function batchNumberOf(prefix: string, instanceId: string | undefined): number {
  return instanceId?.startsWith(prefix) ? Number(instanceId.slice(prefix.length)) : Number.NaN;
}

/** The prefix a batch's instance id was made from (batchInstanceId): its run's batches all share it. */
export function batchIdPrefixOf(batchId: string): string {
  return batchId.replace(/\d+$/, "");
}

/** Whether an instance id is a batch's (listings leave them out). */
export function isBatchId(instanceId: string): boolean {
  return instanceId.includes(BATCH_MARK);
}
