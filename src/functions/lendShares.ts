import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { durableRpcBaseUrl } from "../durable/client";
import { FunctionNames, SHARE_EVENT } from "../durable/names";
import { batchInstanceId, runBatchPrefix } from "../gather/instanceIds";
import { waitingBatches, type BatchStatus } from "../gather/census";
import type { LendSharesInput, ShareLoan } from "../gather/types";
import { planLoans } from "../gather/window";
import { gatherKeys, getPayloadStore, type PayloadStore } from "../payload";
import { batchStatusesByPrefix } from "../views/gatherStatus";

/**
 * Once no batch of a windowed gather is left to start, the share of each batch that ends would sit idle while a
 * running batch may have calls waiting behind slow ones: this lends it (gather/window.ts planLoans) to the running
 * batches whose status shows calls waiting for a slot, most waiting first, and raises SHARE_EVENT on each. Returns
 * the loans: the parent counts them as those batches' share (so the shares still add up to the window) and keeps the
 * rest for the next batch that ends. Activities run at least once, so the plan is stored first (put-if-absent, under
 * the lending's number): a second run raises and returns the first run's plan, whatever the statuses say by then,
 * and each loan carries its name, which a batch takes once. A loan whose raise failed is returned all the same: the
 * parent then counts a share the batch may not have (safe: it is free again when that batch ends), never the reverse.
 * Lends nothing without the local endpoint to read the statuses, or when the read fails (unless an earlier run stored
 * a plan); fails when the store does.
 */
async function lendShares(input: LendSharesInput, context: InvocationContext): Promise<ShareLoan[]> {
  const rpcBaseUrl = durableRpcBaseUrl(context);
  if (!rpcBaseUrl) return [];
  const prefix = runBatchPrefix(input.requestId, input.batchIdPrefix);
  const statuses = await batchStatusesByPrefix(rpcBaseUrl, prefix).catch((error: unknown) => {
    context.warn(`lendShares ${input.requestId}: the batches' statuses could not be read (${(error as Error).message})`);
    return [];
  });
  const client = df.getClient(context);
  return lend(input, statuses, getPayloadStore(), async (batch, loan) => {
    try {
      await client.raiseEvent(batchInstanceId(input.requestId, input.batchIdPrefix, batch), SHARE_EVENT, loan);
    } catch (error) {
      context.warn(`lendShares ${input.requestId}: batch ${batch} could not be lent its share (${(error as Error).message})`);
    }
  });
}

/**
 * One lending: the plan from the batches' statuses (none when they could not be read), or the plan an earlier run of
 * this lending stored, raised loan by loan (`raise` never throws). Throws only when the store fails: the activity then
 * fails, and the parent lends its amount no more (an earlier run may have raised loans).
 */
export async function lend(
  input: LendSharesInput,
  statuses: readonly BatchStatus[],
  store: PayloadStore,
  raise: (batch: number, loan: { maxInFlight: number; perOrigin: number; loan: number }) => Promise<void>,
): Promise<ShareLoan[]> {
  const prefix = runBatchPrefix(input.requestId, input.batchIdPrefix);
  const plan = planLoans(input.pool, waitingBatches(prefix, input.running, statuses));
  const key = gatherKeys(input.run.instanceId, input.run.runId).loans(input.lending);
  const put = await store.putText(key, JSON.stringify(plan), { contentType: "application/json" });
  const loans = put.identical ? plan : (JSON.parse(await store.getText(key)) as ShareLoan[]);
  for (const [batch, maxInFlight, perOrigin] of loans) await raise(batch, { maxInFlight, perOrigin, loan: input.lending });
  return loans;
}

df.app.activity(FunctionNames.lendShares, { handler: lendShares, extraInputs: [df.input.durableClient()] });
