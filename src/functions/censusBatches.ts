import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { durableRpcBaseUrl } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { batchCountsOf, type BatchCounts } from "../gather/census";
import { runBatchPrefix } from "../gather/instanceIds";
import type { CensusBatchesInput } from "../gather/types";
import { batchStatusesByPrefix } from "../views/gatherStatus";

/**
 * The counts of a large gather's batches, from their custom statuses (one instance query by the run's batch id
 * prefix), for the parent's cross-batch decisions (gather/census.ts). A few bytes a batch. Nothing when the host
 * gives no local endpoint to query, or the query fails: the parent then decides as its batches end, as before.
 */
async function censusBatches(input: CensusBatchesInput, context: InvocationContext): Promise<BatchCounts[]> {
  const rpcBaseUrl = durableRpcBaseUrl(context);
  if (!rpcBaseUrl) return [];
  const prefix = runBatchPrefix(input.requestId, input.batchIdPrefix);
  try {
    return batchCountsOf(prefix, await batchStatusesByPrefix(rpcBaseUrl, prefix));
  } catch (error) {
    context.warn(`censusBatches ${input.requestId}: the batches' statuses could not be read (${(error as Error).message})`);
    return [];
  }
}

df.app.activity(FunctionNames.censusBatches, { handler: censusBatches, extraInputs: [df.input.durableClient()] });
