import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import * as df from "durable-functions";
import { isActive } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { progressOf } from "../http/progress";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";

export async function getScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const gather = await findGather(request, context);
  if (!gather.found) return gather.response;
  const { id, status } = gather;
  return jsonResponse(200, {
    id,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    progress: progressOf(status.customStatus, isActive(status)),
    result: status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed ? (status.output ?? null) : null,
    ...(status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ? { error: status.output ?? null } : {}),
  });
}

gatherApi(FunctionNames.getScatterGather, "GET", "scatter-gather/{id}", getScatterGather);
