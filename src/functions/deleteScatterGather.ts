import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { gatherApi } from "../http/register";
import { errorBody } from "../gather/errors";
import { isActive, purgeGather } from "../durable/client";
import { FunctionNames } from "../durable/names";
import { findGather } from "../http/gatherRoute";
import { jsonResponse } from "../http/responses";
import type { OrchestrationInput } from "../gather/types";
import { getPayloadStore, instancePrefix } from "../payload";
import { deleteRunsUpTo } from "../payload/runs";

/** Purges a finished gather, its batch sub-orchestrations and its stored payloads. */
async function deleteScatterGather(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const gather = await findGather(request, context, { showInput: true });
  if (!gather.found) return gather.response;
  const { id, client, status } = gather;
  if (isActive(status)) {
    return jsonResponse(
      409,
      errorBody("conflict", `scatter-gather ${id} is ${status.runtimeStatus}: terminate it first (POST ${request.url}/terminate)`),
    );
  }
  await purgeGather(client, status);
  // Every run of this instance id up to the purged one: its request, recipient list, answers and result.
  // Not a run started since (a POST of the same id racing this DELETE): its data is its own.
  const run = (status.input as Partial<OrchestrationInput> | null | undefined)?.run;
  // Twice: calls still in flight (a terminated gather's) may store answers meanwhile; a later one sees its run
  // gone and deletes its own answers (gather/orphans.ts).
  let blobs = 0;
  for (let sweep = 0; sweep < 2; sweep++) {
    const store = getPayloadStore();
    blobs += run ? await deleteRunsUpTo(store, id, run.runId) : await store.deleteByPrefix(instancePrefix(id));
  }
  context.log(`Purged scatter-gather ${id} (and ${blobs} stored payloads)`);
  return { status: 204 };
}

gatherApi(FunctionNames.deleteScatterGather, "DELETE", "scatter-gather/{id}", deleteScatterGather);
