/** The `progress` field of GET /api/scatter-gather/{id}. */
import { isActive } from "../durable/client";
import { progressOf as countsProgress } from "../gather/tally";
import type { GatherProgress, OrchestrationInput } from "../gather/types";

/**
 * The progress `counts` (the custom status, or counts made from it) show for an instance of this `status`. While it
 * is active: the counts as they are, or before its first episode what its input says (startingProgress). Once it has
 * finished, the counts it ended with under `phase: "done"` (the orchestrator's last status may still say
 * "aggregating" or "gathering"), or null when they are not counts. One that ended without its result (terminated,
 * or failed) has nobody pending any more: the recipients it had not settled are abandoned, as its close event and
 * its responses route say.
 */
export function progressOf(counts: unknown, status: { runtimeStatus: unknown; input?: unknown; createdTime?: Date | string }): unknown {
  if (isActive({ runtimeStatus: String(status.runtimeStatus) }))
    return counts ?? (status.createdTime !== undefined ? startingProgress(status.input, status.createdTime) : null);
  if (!hasCounts(counts)) return null;
  if (!endedUnsettled(status.runtimeStatus)) return { ...counts, phase: "done" } satisfies GatherProgress;
  const { awaitingReply: _waiting, ...settled } = counts;
  const abandoned = (settled.abandoned ?? 0) + settled.pending;
  return { ...settled, phase: "done", ...(abandoned > 0 ? { abandoned } : {}), pending: 0 } satisfies GatherProgress;
}

/** Ended without a result document: terminated, or failed (durable runtime statuses). */
export function endedUnsettled(runtimeStatus: unknown): boolean {
  return runtimeStatus === "Terminated" || runtimeStatus === "Failed";
}

function hasCounts(value: unknown): value is GatherProgress {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return ["total", "succeeded", "failed", "pending"].every((k) => typeof v[k] === "number");
}

/**
 * Before the orchestrator's first episode has set its status (a start or a redrive just accepted): what that
 * episode will say, from the input: nothing settled yet but, in a redrive, the earlier outcomes it keeps; the
 * deadline counted from the instance's creation (the orchestrator counts from its first episode, and the status
 * gives whole seconds, so this one may be up to a second early until that episode).
 * Null for an auction, whose answers are not known in number, or an input of another shape.
 */
export function startingProgress(input: unknown, createdTime: Date | string): GatherProgress | null {
  const gather = input as Partial<OrchestrationInput> | null;
  if (!gather || typeof gather.recipientCount !== "number" || gather.auction) return null;
  const kept = gather.redrive?.kept ?? { total: 0, succeeded: 0, failed: 0, timedOut: 0, abandoned: 0 };
  const timeoutMs = gather.completion?.timeoutMs;
  const created = new Date(createdTime).getTime();
  const deadline = timeoutMs !== undefined && Number.isFinite(created) ? new Date(created + timeoutMs).toISOString() : null;
  return countsProgress({ ...kept, total: kept.total + gather.recipientCount }, deadline, "gathering");
}
