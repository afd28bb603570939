/**
 * The next run of a redriven gather, prepared in the payload store: from the latest run's result, the plan
 * (gather/redrive.ts), then the new run's folder (a copy of the request, the redriven recipients in list order,
 * the redrive document) and its orchestration input (references, counts and the policy as the gather gave it).
 * The redrive route starts it; the orchestration tests start it the same way.
 */
import type { PayloadStore } from "../payload/store";
import { concurrencyInput } from "./concurrency";
import { batchIdPrefix } from "./instanceIds";
import { planRedrive, type RedriveStatus } from "./redrive";
import { RunPayloads } from "./runPayloads";
import type { OrchestrationInput } from "./types";

export type RedriveStart =
  { ok: true; input: OrchestrationInput; recipients: number; redrives: number } | { ok: false; status: 400 | 409; message: string };

/** Prepares run `runId` of the gather whose latest run `input` started; nothing is written when it is refused. */
export async function prepareRedrive(
  store: PayloadStore,
  input: OrchestrationInput,
  statuses: readonly RedriveStatus[],
  { runId, fanoutBatchSize }: { runId: string; fanoutBatchSize: number },
): Promise<RedriveStart> {
  const id = input.run.instanceId;
  const previous = new RunPayloads(store, input.run);
  const result = await previous.result();
  if (!result) return { ok: false, status: 409, message: `scatter-gather ${id} has no stored result to redrive from` };
  const plan = planRedrive(result, input.run.runId, statuses);
  if (!plan.ok) return { ok: false, status: 400, message: plan.message };

  // The gather's whole recipient list is the first run's; every later run stores the recipients it calls.
  const listRunId = input.redrive?.listRunId ?? input.run.runId;
  const [all, request] = await Promise.all([new RunPayloads(store, { instanceId: id, runId: listRunId }).recipients(), previous.request()]);
  const recipients = plan.indexes.map((index) => all[index]);
  const run = { instanceId: id, runId };
  const redrives = (input.redrive?.redrives ?? 0) + 1;
  const next = new RunPayloads(store, run);
  await Promise.all([
    next.storeRequest(request),
    next.storeRecipients(recipients),
    next.storeRedrive({ redrives, previousRunId: input.run.runId, listRunId, indexes: plan.indexes, entries: plan.entries }),
  ]);
  // The policy as the gather gave it; what depends on the recipient list is made again for the redriven ones.
  const { recipientCount: _count, batchIdPrefix: _prefix, origins: _origins, batchSlots: _slots, ...policy } = input;
  return {
    ok: true,
    recipients: recipients.length,
    redrives,
    input: {
      ...policy,
      run,
      recipientCount: recipients.length,
      fanoutBatchSize,
      ...(recipients.length > fanoutBatchSize ? { batchIdPrefix: batchIdPrefix(id, runId) } : {}),
      ...(input.concurrency ? concurrencyInput(recipients, input.concurrency, fanoutBatchSize) : {}),
      redrive: { redrives, listRunId, kept: plan.kept },
    },
  };
}
