/**
 * Redrive (API.md "POST /api/scatter-gather/{id}/redrive") as pure planning and merging: which recipients of
 * a finished gather run again, what the earlier runs leave behind (kept outcomes, counted by the policy of the
 * whole gather), and the merged outcomes once the new run is over.
 *
 * A redrive is a new run of the same instance id (its own run folder). Its stored recipient list holds only the
 * redriven recipients, in list order, so the orchestrators gather over indexes 0..R-1 as for any gather; the
 * redrive document (`redrive.json` in the new run's folder) maps them back to the gather's list and carries the
 * earlier outcomes, whose answer refs name the run folder that holds them (AnswerRef.run).
 */
import type { AnswerRef } from "./answerGroups";
import type { RecipientOutcome } from "./outcomes";
import type { ClosedBy, Counts, ResponseStatus, RunRef } from "./types";

export const REDRIVABLE = ["failed", "timedOut", "abandoned"] as const;
export type RedriveStatus = (typeof REDRIVABLE)[number];

/** An outcome as a result document holds it: with its recipient id and, when it is in another run, its run. */
export type RedriveEntry = RecipientOutcome & { recipientId: string };

/** `<instanceId>/<runId>/redrive.json`: written by the redrive route before the new run starts. */
export interface RedriveDocument {
  /** How many redrives the gather has had, this one included. */
  redrives: number;
  /** The run whose result this redrive starts from. */
  previousRunId: string;
  /** The run whose stored recipient list is the gather's whole list (the first run). */
  listRunId: string;
  /** The redriven recipients' indexes in the gather's list, ascending: new-run index i is indexes[i]. */
  indexes: number[];
  /** The gather's outcomes before this run, in list order; every answer ref names its run. */
  entries: RedriveEntry[];
}

export type ParsedStatuses = { ok: true; value: RedriveStatus[] } | { ok: false; message: string };

/** `?status=failed,timedOut,abandoned` (default: all three). */
export function parseRedriveStatuses(raw: string | null): ParsedStatuses {
  if (raw === null || raw.trim() === "") return { ok: true, value: [...REDRIVABLE] };
  const values = raw.split(",").map((s) => s.trim());
  const bad = values.find((s) => !(REDRIVABLE as readonly string[]).includes(s));
  if (bad !== undefined) return { ok: false, message: `must be a comma-separated list of ${REDRIVABLE.join(", ")}; got '${bad}'` };
  return { ok: true, value: REDRIVABLE.filter((s) => values.includes(s)) };
}

/** Closes that mean the completion policy was met: a redrive under the same policy would call nobody. */
const POLICY_MET: readonly ClosedBy[] = ["first-response", "quorum-reached"];

export type RedrivePlan = { ok: true; indexes: number[]; entries: RedriveEntry[]; kept: Counts } | { ok: false; message: string };

/**
 * Which recipients a redrive calls again: those whose status is one of `statuses`. Refuses (with the reason)
 * when none matches, or when the earlier close already met the policy (`first` answered, quorum reached): the
 * same policy, counted over the whole gather, would close the new run before it called anyone. The entries
 * come back with every answer ref pinned to its run (`fromRunId` for refs of the run the result belongs to).
 */
export function planRedrive(
  result: { closedBy: ClosedBy; outcomes: readonly RedriveEntry[] },
  fromRunId: string,
  statuses: readonly RedriveStatus[],
): RedrivePlan {
  if (POLICY_MET.includes(result.closedBy)) {
    return {
      ok: false,
      message: `the gather closed by ${result.closedBy}: its completion policy is met by earlier answers, so a redrive would call nobody`,
    };
  }
  const wanted = new Set<ResponseStatus>(statuses);
  const indexes: number[] = [];
  const entries = result.outcomes.map((entry, index) => {
    if (wanted.has(entry.status)) indexes.push(index);
    return entry.answer && !entry.answer.run ? { ...entry, answer: { ...entry.answer, run: fromRunId } } : entry;
  });
  if (indexes.length === 0) return { ok: false, message: `no recipient of the gather ended ${statuses.join(" or ")}: nothing to redrive` };
  return { ok: true, indexes, entries, kept: keptCounts(entries, indexes) };
}

/** The outcomes a redrive keeps (every entry not redriven), as counts: the new run's tally starts from them. */
export function keptCounts(entries: readonly RedriveEntry[], indexes: readonly number[]): Counts {
  const redriven = new Set(indexes);
  return countsOf(entries.filter((_, i) => !redriven.has(i)));
}

export function countsOf(entries: readonly { status: ResponseStatus }[]): Counts {
  const counts: Counts = { total: entries.length, succeeded: 0, failed: 0, timedOut: 0, abandoned: 0 };
  for (const e of entries) counts[e.status]++;
  return counts;
}

/**
 * The whole gather after the new run: the earlier entries, with each redriven one replaced by its new outcome
 * (`outcomes[i]` is recipient `indexes[i]`), its attempts added to the earlier ones and its answer ref pinned to
 * the new run. A recipient the new run never called (abandoned, timed out before a slot) keeps its earlier attempts.
 */
export function mergeOutcomes(
  doc: Pick<RedriveDocument, "indexes" | "entries">,
  outcomes: readonly RecipientOutcome[],
  runId: string,
): RedriveEntry[] {
  if (outcomes.length !== doc.indexes.length) {
    throw new Error(`the redrive ran ${outcomes.length} recipients, its document names ${doc.indexes.length}`);
  }
  const merged = doc.entries.slice();
  doc.indexes.forEach((index, i) => {
    const earlier = doc.entries[index];
    const now = outcomes[i];
    const attempts = (earlier.attempts ?? 0) + (now.attempts ?? 0);
    const { attempts: _a, durationMs: _d, error: _e, answer: _r, ...rest } = now;
    merged[index] = {
      recipientId: earlier.recipientId,
      ...rest,
      ...(attempts > 0 ? { attempts } : {}),
      ...(now.durationMs !== undefined ? { durationMs: now.durationMs } : {}),
      ...(now.error !== undefined ? { error: now.error } : {}),
      ...(now.answer ? { answer: pinned(now.answer, runId) } : {}),
    };
  });
  return merged;
}

function pinned(ref: AnswerRef, runId: string): AnswerRef {
  return ref.run ? ref : { ...ref, run: runId };
}

/** What the redriveAgreement activity gets. */
export interface RedriveAgreementInput {
  /** The redrive run: its redrive document names the earlier outcomes and the redriven recipients. */
  run: RunRef;
  quorum: number;
}

/**
 * An agreement quorum's start in a redrive: the earlier answers' digests, counted by value, keeping only the
 * groups that the `redriven` recipients can still bring to `quorum` (the others can never decide), in the order
 * each value first appeared.
 */
export function agreementSeed(digests: Iterable<string>, redriven: number, quorum: number): [digest: string, count: number][] {
  const counts = new Map<string, number>();
  for (const digest of digests) counts.set(digest, (counts.get(digest) ?? 0) + 1);
  return [...counts].filter(([, count]) => count + redriven >= quorum);
}
