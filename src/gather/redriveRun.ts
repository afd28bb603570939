/**
 * The next run of a redriven gather, prepared in the payload store: from the latest run's result, the plan
 * (gather/redrive.ts), then the new run's folder (a copy of the request, the redriven recipients in list order,
 * the redrive document) and its orchestration input (references, counts and the policy as the gather gave it).
 * The redrive route starts it; the orchestration tests start it the same way.
 */
import { gatherKeys, runStartedAt } from "../payload/keys";
import type { PayloadStore } from "../payload/store";
import { DEFAULT_RETRY_DEADLINE_MS } from "./limits";
import { concurrencyInput } from "./concurrency";
import { batchIdPrefix } from "./instanceIds";
import { CENSUS_INTERVAL_MS } from "./census";
import { planRedrive, type RedriveStatus } from "./redrive";
import { RunPayloads } from "./runPayloads";
import type { OrchestrationInput } from "./types";

/** The gather's first run: it holds the whole recipient list (each later run stores only the recipients it calls). */
const listRunIdOf = (input: OrchestrationInput): string => input.redrive?.listRunId ?? input.run.runId;

/**
 * The storage lifecycle rule deletes payloads PAYLOAD_RETENTION_DAYS after they were written, and a redrive's
 * result reads the first run's recipient list and every earlier run's answers: the redrive must end, deadline
 * and a day's margin included, before the first run's payloads go. Undefined when it can.
 */
function expiresTooSoon(input: OrchestrationInput, retentionDays: number, now: Date): string | undefined {
  const started = runStartedAt(listRunIdOf(input));
  if (!started) return undefined;
  const deadlineMs = input.completion.timeoutMs ?? (input.retry ? DEFAULT_RETRY_DEADLINE_MS : 0);
  const expiresAt = started.getTime() + retentionDays * DAY_MS;
  if (now.getTime() + deadlineMs + DAY_MS < expiresAt) return undefined;
  return (
    `scatter-gather ${input.run.instanceId} started ${started.toISOString()}: its payloads are deleted ${retentionDays} days after ` +
    `(PAYLOAD_RETENTION_DAYS), too soon for a redrive with its deadline to end a day before; start it anew instead`
  );
}

const DAY_MS = 86_400_000;
/**
 * A redrive claim whose run has not started after this long was left by a request that died between its claim and
 * its start (the route takes seconds at most: it writes three blobs, purges the batches, starts the run).
 */
const CLAIM_STALE_MS = 5 * 60_000;

export type RedriveStart =
  { ok: true; input: OrchestrationInput; recipients: number; redrives: number } | { ok: false; status: 400 | 409; message: string };

/**
 * Prepares run `runId` of the gather whose latest run `input` started; nothing is written when it is refused.
 * Once it is prepared, the latest run is claimed for it: a caller that does not start it calls `abandonRedrive`.
 */
export async function prepareRedrive(
  store: PayloadStore,
  input: OrchestrationInput,
  statuses: readonly RedriveStatus[],
  {
    runId,
    fanoutBatchSize,
    retentionDays,
    now = new Date(),
  }: { runId: string; fanoutBatchSize: number; retentionDays?: number; now?: Date },
): Promise<RedriveStart> {
  const id = input.run.instanceId;
  const expiring = retentionDays !== undefined ? expiresTooSoon(input, retentionDays, now) : undefined;
  if (expiring) return { ok: false, status: 409, message: expiring };
  const previous = new RunPayloads(store, input.run);
  const result = await previous.result();
  if (!result) return { ok: false, status: 409, message: `scatter-gather ${id} has no stored result to redrive from` };
  const plan = planRedrive(result, input.run.runId, statuses);
  if (!plan.ok) return { ok: false, status: 400, message: plan.message };

  const listRunId = listRunIdOf(input);
  const [all, request] = await Promise.all([new RunPayloads(store, { instanceId: id, runId: listRunId }).recipients(), previous.request()]);
  const recipients = plan.indexes.map((index) => all[index]);
  const run = { instanceId: id, runId };
  const redrives = (input.redrive?.redrives ?? 0) + 1;
  // One redrive per run: a second request that read the same result is refused before it writes anything.
  const claim = await previous.claimRedrive(runId, now, CLAIM_STALE_MS);
  if (!claim.claimed)
    return {
      ok: false,
      status: 409,
      message: `scatter-gather ${id}: this run was already redriven (run ${claim.by}); redrive the gather again once that run has ended`,
    };

  const next = new RunPayloads(store, run);
  try {
    await Promise.all([
      next.storeRequest(request),
      next.storeRecipients(recipients),
      next.storeRedrive({ redrives, previousRunId: input.run.runId, listRunId, indexes: plan.indexes, entries: plan.entries }),
    ]);
  } catch (error) {
    await abandonRedrive(store, input, runId).catch(() => undefined);
    throw error;
  }
  // The policy as the gather gave it; what depends on the recipient list is made again for the redriven ones.
  const {
    recipientCount: _count,
    batchIdPrefix: _prefix,
    origins: _origins,
    batchSlots: _slots,
    lendShares: _lends,
    censusMs: _census,
    censusVotes: _votes,
    ...policy
  } = input;
  return {
    ok: true,
    recipients: recipients.length,
    redrives,
    input: {
      ...policy,
      run,
      recipientCount: recipients.length,
      fanoutBatchSize,
      ...(recipients.length > fanoutBatchSize
        ? {
            batchIdPrefix: batchIdPrefix(id, runId),
            censusMs: CENSUS_INTERVAL_MS,
            ...(input.completion.agree ? { censusVotes: true } : {}),
          }
        : {}),
      ...(input.concurrency ? concurrencyInput(recipients, input.concurrency, fanoutBatchSize) : {}),
      redrive: { redrives, listRunId, kept: plan.kept },
    },
  };
}

/** Undoes a prepared redrive that was not started: its run folder goes, and the run it redrove is free again. */
export async function abandonRedrive(store: PayloadStore, input: OrchestrationInput, runId: string): Promise<void> {
  await store.deleteByPrefix(gatherKeys(input.run.instanceId, runId).prefix);
  await new RunPayloads(store, input.run).releaseRedriveClaim();
}
