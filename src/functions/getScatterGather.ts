import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { isInstanceId } from "../gather/schema";
import { findStatus, isActive } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { progressOf } from "../http/progress";
import { jsonResponse, notFound } from "../http/responses";

export async function getScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id;
  // An id outside the pattern names no instance; never let it reach the management API's URL.
  if (!isInstanceId(id)) return notFound(id);
  const status = await findStatus(df.getClient(context), id);
  if (!status) return notFound(id);
  return jsonResponse(200, {
    id,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    progress: progressOf(status.customStatus, isActive(status)),
    result: status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed ? status.output ?? null : null,
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
