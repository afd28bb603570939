import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import { durableRpcBaseUrl } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";
import { liveProgress, policyOf } from "../views/gatherStatus";

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
    progress: await liveProgress(status, durableRpcBaseUrl(context), (message) => context.warn(message)),
    result: status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed ? (status.output ?? null) : null,
    ...(status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ? { error: status.output ?? null } : {}),
  });
}

gatherApi(FunctionNames.getScatterGather, "GET", "scatter-gather/{id}", getScatterGather);
