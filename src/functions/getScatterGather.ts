import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import { batchPrefixOf, durableRpcBaseUrl, isActive } from "../durable/client";
import { FunctionNames } from "../durable/names";
import type { GatherProgress, OrchestrationInput } from "../gather/types";
import { endedUnsettled, progressOf } from "../http/progress";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";
import { batchStatusesByPrefix, policyOf, withBatchCounts } from "../views/gatherStatus";

export async function getScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const { id, status } = gather;
  return jsonResponse(200, {
    id,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    policy: policyOf(status.input),
    progress: await liveProgress(status, context),
    result: status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed ? (status.output ?? null) : null,
    ...(status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ? { error: status.output ?? null } : {}),
  });
}

/**
 * While a large gather runs, its batches' counts as they stand (views/gatherStatus.ts), also while it takes back
 * their outcomes after it decided (phase aggregating); once done, its own. One terminated (or failed) while it
 * gathered keeps what its batches had settled: the parent learns a batch's counts only when the batch ends.
 */
async function liveProgress(status: df.DurableOrchestrationStatus, context: InvocationContext): Promise<unknown> {
  const active = isActive(status);
  const unsettled = endedUnsettled(status.runtimeStatus);
  const own = progressOf(status.customStatus, status);
  const prefix = batchPrefixOf(status);
  const rpcBaseUrl = durableRpcBaseUrl(context);
  const gathering = ["gathering", "aggregating"].includes((status.customStatus as GatherProgress | null)?.phase ?? "");
  if (!(active || unsettled) || !prefix || !rpcBaseUrl || !gathering || own === null) return own;
  try {
    const kept = (status.input as Partial<OrchestrationInput> | null)?.redrive?.kept;
    // The summed counts shown as the instance's state says (ended: nobody pending).
    return progressOf(withBatchCounts(own as GatherProgress, await batchStatusesByPrefix(rpcBaseUrl, prefix), kept), status);
  } catch (error) {
    context.warn(`progress of ${status.instanceId}: the batches' counts could not be read (${(error as Error).message})`);
    return own;
  }
}

gatherApi(FunctionNames.getScatterGather, "GET", "scatter-gather/{id}", getScatterGather);
