import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { durableRpcBaseUrl } from "../durable/client";
import { FunctionNames, SHARE_EVENT } from "../durable/names";
import { batchInstanceId, runBatchPrefix } from "../gather/instanceIds";
import { waitingBatches } from "../gather/census";
import type { LendSharesInput, ShareLoan } from "../gather/types";
import { planLoans } from "../gather/window";
import { batchStatusesByPrefix } from "../views/gatherStatus";

/**
 * Once no batch of a windowed gather is left to start, the share of each batch that ends would sit idle while a
 * running batch may have calls waiting behind slow ones: this lends it (gather/window.ts planLoans) to the running
 * batches whose status shows calls waiting for a slot, most waiting first, and raises SHARE_EVENT on each. Returns
 * the loans raised: the parent counts them as those batches' share (so the shares still add up to the window) and
 * keeps the rest for the next batch that ends. Lends nothing without the local endpoint to read the statuses, or when
 * the read fails. Never throws.
 */
async function lendShares(input: LendSharesInput, context: InvocationContext): Promise<ShareLoan[]> {
  const rpcBaseUrl = durableRpcBaseUrl(context);
  if (!rpcBaseUrl) return [];
  const prefix = runBatchPrefix(input.requestId, input.batchIdPrefix);
  try {
    const waiting = waitingBatches(prefix, input.running, await batchStatusesByPrefix(rpcBaseUrl, prefix));
    const client = df.getClient(context);
    const raised: ShareLoan[] = [];
    for (const [batch, maxInFlight, perOrigin] of planLoans(input.pool, waiting)) {
      try {
        await client.raiseEvent(batchInstanceId(input.requestId, input.batchIdPrefix, batch), SHARE_EVENT, { maxInFlight, perOrigin });
        raised.push([batch, maxInFlight, perOrigin]);
      } catch (error) {
        context.warn(`lendShares ${input.requestId}: batch ${batch} could not be lent its share (${(error as Error).message})`);
      }
    }
    return raised;
  } catch (error) {
    context.warn(`lendShares ${input.requestId}: the batches' statuses could not be read (${(error as Error).message})`);
    return [];
  }
}

df.app.activity(FunctionNames.lendShares, { handler: lendShares, extraInputs: [df.input.durableClient()] });
