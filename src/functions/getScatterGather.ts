import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { errorBody } from "../gather/errors";
import { findStatus } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { jsonResponse } from "../http/responses";

export async function getScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const id = request.params.id;
  const status = await findStatus(df.getClient(context), id);
  if (!status) return jsonResponse(404, errorBody("not_found", `no scatter-gather with id ${id}`));
  return jsonResponse(200, {
    id,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    progress: status.customStatus ?? null,
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
