import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { durableRpcBaseUrl } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { readCensus, type BatchCounts, type CensusRead } from "../gather/census";
import { runBatchPrefix } from "../gather/instanceIds";
import type { CensusBatchesInput } from "../gather/types";
import { batchStatusesByPrefix } from "../views/gatherStatus";

/**
 * The counts of a large gather's batches, from their custom statuses (one instance query by the run's batch id
 * prefix), for the parent's cross-batch decisions (gather/census.ts). A few bytes a batch. For an agreement quorum
 * (`votes` asked) also the running batches' votes, batch by batch, for at most 2 × VOTES_SHOWN digests. Nothing when the host gives
 * no local endpoint to query, or the query fails: the parent then decides as its batches end, as before.
 */
async function censusBatches(input: CensusBatchesInput, context: InvocationContext): Promise<BatchCounts[] | CensusRead> {
  const rpcBaseUrl = durableRpcBaseUrl(context);
  if (!rpcBaseUrl) return [];
  const prefix = runBatchPrefix(input.requestId, input.batchIdPrefix);
  try {
    return readCensus(prefix, await batchStatusesByPrefix(rpcBaseUrl, prefix), input.votes);
  } catch (error) {
    context.warn(`censusBatches ${input.requestId}: the batches' statuses could not be read (${(error as Error).message})`);
    return [];
  }
}

df.app.activity(FunctionNames.censusBatches, { handler: censusBatches, extraInputs: [df.input.durableClient()] });
