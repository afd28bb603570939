import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
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

app.http(FunctionNames.getScatterGather, {
  route: "scatter-gather/{id}",
  methods: ["GET"],
  authLevel: "function",
  extraInputs: [df.input.durableClient()],
  handler: getScatterGather,
});
